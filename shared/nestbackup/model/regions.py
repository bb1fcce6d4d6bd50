"""Where the products a deployment uses are served, as their own sources list it (docs/cloud-fidelity.md,
"Regions"), and which Compute Nest region serves the service instances of a deployment.

A deployment creates its functions before its flows (`s deploy` runs the fc3 resources first): a region the flow
component refuses leaves functions behind, so the preflight (`nestbackup doctor --before-deploy`) asks here first.
"""
from __future__ import annotations

# fc3 component, src/interface/region.ts (`Region`) and src/schema.json IRegion: the regions `s deploy` accepts.
FC3_REGIONS = frozenset({
    "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-5", "ap-southeast-7", "cn-beijing", "cn-chengdu", "cn-hangzhou", "cn-heyuan-acdr-1",
    "cn-hongkong", "cn-huhehaote", "cn-qingdao", "cn-shanghai", "cn-shanghai-cloudspe", "cn-shanghai-finance-1",
    "cn-shenzhen", "cn-wulanchabu", "cn-zhangjiakou", "eu-central-1", "eu-west-1", "me-central-1", "us-east-1",
    "us-west-1"})
# flow component (devsapp/fnf@3fd635b src/impl/base.ts, `validRegions`): anything else fails with
# "region is must be in [...]" -- after the fc3 resources before it were created.
FLOW_REGIONS = frozenset({"cn-beijing", "cn-hangzhou", "cn-shanghai", "cn-qingdao", "cn-shenzhen", "ap-southeast-1",
                          "us-west-1", "cn-heyuan-acdr-1"})
# Compute Nest (user side, 2021-06-01) "Endpoints" page: computenest.cn-hangzhou.aliyuncs.com and
# computenest.ap-southeast-1.aliyuncs.com, nothing else.
COMPUTENEST_REGIONS = frozenset({"cn-hangzhou", "ap-southeast-1"})


def computenest_region(region: str) -> str:
    """The Compute Nest region serving service instances whose resources are in `region`: the region itself where
    Compute Nest is served, else cn-hangzhou for the Chinese mainland and ap-southeast-1 for the rest (the console's
    domestic and international sites; UNCONFIRMED for regions outside the two, see docs/cloud-fidelity.md)."""
    if region in COMPUTENEST_REGIONS:
        return region
    return "cn-hangzhou" if region.startswith("cn-") and region != "cn-hongkong" else "ap-southeast-1"


def unsupported(region: str) -> list[str]:
    """One line per product of the deployment that `region` does not serve, with its fix; empty when all do."""
    lines = []
    if region not in FC3_REGIONS:
        lines.append(f"Function Compute (fc3 component) does not deploy to {region} - fix: set NESTBACKUP_REGION "
                     f"to one of {', '.join(sorted(FC3_REGIONS & FLOW_REGIONS))}")
    if region not in FLOW_REGIONS:
        lines.append(f"the CloudFlow component of Serverless Devs (flow) refuses {region} after the functions are "
                     f"created - fix: set NESTBACKUP_REGION to one of {', '.join(sorted(FLOW_REGIONS))}")
    return lines
