"""The value types of .cnai: scalars, lists, and artifacts."""

from __future__ import annotations

from cnai.semantics.ir import Type, TypeName

SCALARS: tuple[TypeName, ...] = ("string", "int", "float", "bool")
ARTIFACTS: tuple[TypeName, ...] = ("artifact", "dataset", "model", "metrics",
                                   "classification_metrics")
TYPE_NAMES = (*SCALARS, "list", *ARTIFACTS)

STRING = Type(name="string")
INT = Type(name="int")
FLOAT = Type(name="float")
BOOL = Type(name="bool")
# Every type but lists, made once: types are frozen, so every output and param of a type can
# share one (the checker types thousands of outputs).
BY_NAME: dict[str, Type] = {"string": STRING, "int": INT, "float": FLOAT, "bool": BOOL,
                            **{name: Type(name=name) for name in ARTIFACTS}}


def list_of(item: Type) -> Type:
    return Type(name="list", item=item)


def is_numeric(t: Type) -> bool:
    return t.name in ("int", "float")


def is_artifact(t: Type) -> bool:
    return t.name in ARTIFACTS or (t.name == "list" and t.item is not None
                                   and is_artifact(t.item))


def comparable(a: Type, b: Type, op: str) -> bool:
    """Whether ``a OP b`` is well typed: numbers with numbers, otherwise the same scalar type;
    ordering only on numbers (string order differs between Argo's expr and KFP's CEL)."""
    if is_numeric(a) and is_numeric(b):
        return True
    if op not in ("==", "!="):
        return False
    return a.name == b.name and a.name in ("string", "bool")


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of type ``value`` may be used where ``target`` is declared."""
    if value == target:
        return True
    if value.name == "int" and target.name == "float":
        return True
    if value.name == "record" and target.name == "record":
        return _fields_assignable(value, target)
    if value.name == target.name == "metrics" and target.fields is None:
        return True  # any metrics output where plain `metrics` is declared
    if value.name == "list" and target.name == "list":
        if value.item is None or target.item is None:  # the empty list fits any list
            return True
        return assignable(value.item, target.item)
    return target.name == "artifact" and value.name in ARTIFACTS


def _fields_assignable(value: Type, target: Type) -> bool:
    """A record fits a record type with the same field names, each field's value fitting."""
    found = dict(value.fields or ())
    wanted = dict(target.fields or ())
    if found.keys() != wanted.keys():
        return False
    return all(assignable(found[name], wanted[name]) for name in wanted)


def metric_output_name(metrics: str, scalar: str) -> str:
    """The parameter output that carries scalar ``scalar`` of metrics output ``metrics``:
    ``scores-accuracy``. The ``-`` no .cnai name holds keeps it apart from the user's
    outputs; Argo and Kubeflow take it in parameter names."""
    return f"{metrics}-{scalar}"
