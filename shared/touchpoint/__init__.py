"""Touchpoint: the domain package shared by every Lambda function (deployed as a layer).

Modules are split by what they are about: ``catalog`` (touchpoints), ``tokens`` (signed survey
links), ``surveys`` (intake), ``store`` (the DynamoDB adapter) and ``errors`` (the SPEC error body).
"""

__version__ = "0.1.0"
