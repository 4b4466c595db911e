"""The built-in negative types, one generator function each, registered by importing these modules."""

from ahnpl_lightning.data.negatives.kinds import relation, replace, swap  # noqa: F401
