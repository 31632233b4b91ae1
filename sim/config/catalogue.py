"""The built-in catalogue of real instance types with their on-demand prices.

Prices are AWS us-east-1 on-demand Linux, USD per hour, from Karpenter's generated price table
(aws/karpenter-provider-aws ``zz_generated.pricing_aws.go``, generated 2026-07-20); vCPU and
memory from the same project's EC2 fixtures and the ROSA instance list. Within a family the price
is linear in size (m5/m6i: $0.048 per vCPU-hour), so vertical scaling buys no unit-price
discount: its costs are downtime and the ladder's ceiling.

``boot_s`` is the time from launch to a node that accepts work. Observed EKS boot-to-ready
times are 100–145 s (awslabs/amazon-eks-ami#417, aws/karpenter-provider-aws#3102); the
catalogue uses 120 s for every type, and a scenario may override it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

EKS_BOOT_S = 120.0
"""Median launch-to-Ready time of an EKS worker node (see module docstring)."""


class InstanceType(BaseModel):
    """One machine size: what it offers and what it costs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vcpu: int = Field(gt=0)
    memory_mib: int = Field(gt=0)
    price_per_hour_usd: float = Field(ge=0)
    boot_s: float = Field(default=EKS_BOOT_S, ge=0)

    @property
    def cpu_m(self) -> int:
        """Capacity in millicores."""
        return self.vcpu * 1000


_SIZES_VCPU = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
}

# family: (GiB per vCPU, USD per vCPU-hour, largest size offered)
_FAMILIES = {
    "m5": (4, 0.048, "24xlarge"),
    "m6i": (4, 0.048, "32xlarge"),
    "m7i": (4, 0.0504, "48xlarge"),
    "c6i": (2, 0.0425, "32xlarge"),
    "r6i": (8, 0.063, "32xlarge"),
}


def _build_catalogue() -> dict[str, InstanceType]:
    catalogue: dict[str, InstanceType] = {}
    for family, (gib_per_vcpu, usd_per_vcpu_hour, largest) in _FAMILIES.items():
        for size, vcpu in _SIZES_VCPU.items():
            catalogue[f"{family}.{size}"] = InstanceType(
                vcpu=vcpu,
                memory_mib=vcpu * gib_per_vcpu * 1024,
                price_per_hour_usd=round(vcpu * usd_per_vcpu_hour, 6),
            )
            if size == largest:
                break
    # Burstable t3 (same price table); modelled at their full vCPU count, without CPU credits.
    catalogue["t3.large"] = InstanceType(vcpu=2, memory_mib=8192, price_per_hour_usd=0.0832)
    catalogue["t3.xlarge"] = InstanceType(vcpu=4, memory_mib=16384, price_per_hour_usd=0.1664)
    return catalogue


CATALOGUE: dict[str, InstanceType] = _build_catalogue()
"""Instance type name (``m5.xlarge``) → its :class:`InstanceType`."""


def family_ladder(instance_type: str, catalogue: dict[str, InstanceType]) -> list[str]:
    """The sizes of ``instance_type``'s family in ascending vCPU order (the scale-up ladder)."""
    family = instance_type.split(".", 1)[0]
    names = [name for name in catalogue if name.split(".", 1)[0] == family]
    return sorted(names, key=lambda name: catalogue[name].vcpu)
