"""KMS (2016-01-20) secrets: the generic secrets a function reads at run time.

Emulated: CreateSecret, PutSecretValue (to seed and rotate) and GetSecretValue (what the product calls), RPC style
as the unmodified SDK (alibabacloud_kms20160120 3.3.1) sends them. Sources (docs/cloud-fidelity.md, "KMS"): the SDK
models (GetSecretValueResponseBody: SecretName, SecretData, SecretDataType text|binary, SecretType, VersionId,
CreateTime, VersionStages.VersionStage), the API reference page of GetSecretValue (ACSCurrent is returned when no
version or stage is given) and the Terraform provider (alicloud/resource_alicloud_kms_secret.go: CreateSecret takes
SecretName, SecretData, VersionId; PutSecretValue takes VersionStages; a missing secret is Forbidden.ResourceNotFound).
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..core.errors import ServiceError, invalid
from ..core.product import Product
from ..core.rpc import RpcRequest

SECRET = "kms.secret"
CURRENT, PREVIOUS = "ACSCurrent", "ACSPrevious"
# CreateSecretRequest.secret_name: letters, digits and _/+=.@- , 1 to 192 characters (SDK docstring).
_NAME = re.compile(r"^[A-Za-z0-9_/+=.@-]{1,192}$")
# CreateSecret/PutSecretValue SecretData: at most 30,720 bytes (SDK request docstring).
MAX_SECRET_BYTES = 30720


def not_found() -> ServiceError:
    # The code the Terraform provider and the SDK users check; 404 "Resource not found" as the SDK reports it.
    return ServiceError("Forbidden.ResourceNotFound", "Resource not found.", 404)


def secret_arn(region: str, account: str, name: str) -> str:
    """acs:kms:${region}:${account}:secret/${secret-name} (GetSecretValue, SecretName)."""
    return f"acs:kms:{region}:{account}:secret/{name}"


class Kms(Product):
    name = "kms"
    version = "2016-01-20"
    ACTIONS = frozenset({"CreateSecret", "PutSecretValue", "GetSecretValue"})

    def _data(self, req: RpcRequest) -> tuple[str, str]:
        data = req.require("SecretData")
        kind = req.get("SecretDataType", "text")
        if kind not in ("text", "binary"):
            raise invalid("SecretDataType", "Valid values: text, binary.")
        if len(data.encode()) > MAX_SECRET_BYTES:
            raise invalid("SecretData", f"At most {MAX_SECRET_BYTES} bytes.")
        return data, kind

    def CreateSecret(self, req: RpcRequest) -> dict[str, Any]:
        name = req.require("SecretName")
        if not _NAME.match(name):
            raise invalid("SecretName")
        version = req.require("VersionId")
        data, kind = self._data(req)
        with self.cloud.store.tx():
            if self.cloud.store.get(SECRET, name) is not None:
                raise ServiceError("Rejected.ResourceExist", f"The secret {name} already exists.", 400)
            arn = secret_arn(self.cloud.region, self.cloud.account_id, name)
            self.cloud.store.put(SECRET, name, {
                "SecretName": name, "Arn": arn, "SecretType": req.get("SecretType", "Generic"),
                "CreateTime": self.cloud.iso(),
                "Versions": [{"VersionId": version, "SecretData": data, "SecretDataType": kind,
                              "CreateTime": self.cloud.iso(), "VersionStages": [CURRENT]}]})
        return {"Arn": arn, "SecretName": name, "VersionId": version, "SecretType": req.get("SecretType", "Generic")}

    def PutSecretValue(self, req: RpcRequest) -> dict[str, Any]:
        """A new version; it takes ACSCurrent (unless VersionStages names others) and the old current becomes
        ACSPrevious."""
        name, version = req.require("SecretName"), req.require("VersionId")
        data, kind = self._data(req)
        stages = req.get_json("VersionStages", list, [CURRENT])

        def change(doc: dict) -> None:
            if any(v["VersionId"] == version for v in doc["Versions"]):
                raise ServiceError("Rejected.ResourceExist", f"The version {version} already exists.", 400)
            if CURRENT in stages:
                for old in doc["Versions"]:
                    old["VersionStages"] = [PREVIOUS] if CURRENT in old["VersionStages"] else \
                        [s for s in old["VersionStages"] if s != PREVIOUS]
            doc["Versions"].append({"VersionId": version, "SecretData": data, "SecretDataType": kind,
                                    "CreateTime": self.cloud.iso(), "VersionStages": list(stages)})

        if self.cloud.store.update(SECRET, name, change) is None:
            raise not_found()
        return {"SecretName": name, "VersionId": version, "VersionStages": {"VersionStage": list(stages)}}

    def GetSecretValue(self, req: RpcRequest) -> dict[str, Any]:
        doc = self.cloud.store.get(SECRET, self._name(req.require("SecretName")))
        if doc is None:
            raise not_found()
        version_id, stage = req.get("VersionId"), req.get("VersionStage")
        if version_id is None and stage is None:
            stage = CURRENT
        found = [v for v in doc["Versions"] if (version_id is None or v["VersionId"] == version_id)
                 and (stage is None or stage in v["VersionStages"])]
        if not found:
            raise not_found()
        version = found[-1]
        return {"SecretName": doc["SecretName"], "SecretType": doc["SecretType"], "CreateTime": version["CreateTime"],
                "SecretData": version["SecretData"], "SecretDataType": version["SecretDataType"],
                "VersionId": version["VersionId"], "VersionStages": {"VersionStage": version["VersionStages"]}}

    def _name(self, given: str) -> str:
        """A secret is named by its name or its ARN."""
        prefix = secret_arn(self.cloud.region, self.cloud.account_id, "")
        return given.removeprefix(prefix)

    # -- seeding, in process (`nestbackup local serve` and the demo): the same rules as the API
    def put_secret(self, name: str, data: str | dict) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        version = f"v{len((self.cloud.store.get(SECRET, name) or {}).get('Versions', [])) + 1}"
        params = {"SecretName": name, "SecretData": text, "VersionId": version}
        if self.cloud.store.get(SECRET, name) is None:
            self.CreateSecret(RpcRequest(self.name, "CreateSecret", params))
        else:
            self.PutSecretValue(RpcRequest(self.name, "PutSecretValue", params))
