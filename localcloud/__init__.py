"""An embedded local cloud: ECS, RDS and Tablestore on 127.0.0.1 for the unmodified Alibaba Cloud SDKs.

Nothing in the product imports this package; it is reached over HTTP only.
"""
DEFAULT_ACCESS_KEY_ID = "LTAIlocal"
DEFAULT_ACCESS_KEY_SECRET = "local-secret"
DEFAULT_REGION = "cn-hangzhou"
