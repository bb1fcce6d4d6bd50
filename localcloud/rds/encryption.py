"""What RDS says of an instance's encryption: DescribeDBInstanceTDE (instance-level TDE: TDEStatus, the key in
EncryptionKey) and DescribeDBInstanceEncryptionKey (its keys, each with KeyUsage TDE or DiskEncryption). An
instance's settings (`policy.instance_settings`: TDEKey, DiskEncryptionKey) say which it has; none by default."""
from __future__ import annotations

from ..core.rpc import RpcRequest
from .state import RdsState


class Encryption(RdsState):
    def DescribeDBInstanceTDE(self, req: RpcRequest) -> dict:
        inst = self._instance(req.require("DBInstanceId"))
        key = inst.get("TDEKey")
        return {"TDEStatus": "Enabled" if key else "Disabled", "EncryptionKey": key or "",
                "TDEMode": "Customer_Provided_Key" if key else "Unknown", "Databases": {"Database": []}}

    def DescribeDBInstanceEncryptionKey(self, req: RpcRequest) -> dict:
        inst = self._instance(req.require("DBInstanceId"))
        keys = [{"EncryptionKey": inst[field], "KeyUsage": usage, "EncryptionKeyStatus": "Enabled",
                 "KeyType": "CMK", "Origin": "Aliyun_KMS"}
                for field, usage in (("DiskEncryptionKey", "DiskEncryption"), ("TDEKey", "TDE")) if inst.get(field)]
        first = keys[0] if keys else {}
        return {"EncryptionKey": first.get("EncryptionKey", ""), "KeyUsage": first.get("KeyUsage", ""),
                "EncryptionKeyStatus": first.get("EncryptionKeyStatus", ""), "EncryptionKeyList": keys}
