"""Function Compute 3.0: deployment from s.yaml (`syaml`), the FC API and the function registry (`models`)."""
