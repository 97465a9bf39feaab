"""The pipeline IR: the only thing backends read (they never look at the AST).

Names here are the user's names (``train_small``); ``k8s_name`` is the DNS-1123 form the
backends use (``train-small``). Steps are in a stable topological order. Every reference is
resolved and typed, so a backend only translates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, KeysView
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PrivateAttr

from cnai.source import Span

# The closed sets of names the IR holds. A checker that has validated a user's string against
# one of them narrows it with ``typing.cast``, so the code type-checks without pydantic's mypy
# plugin too, as the compiled build's mypyc run does (pyproject.toml).
TypeName = Literal["string", "int", "float", "bool", "list", "artifact", "dataset", "model",
                   "metrics", "record", "classification_metrics"]
CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
BoolKind = Literal["and", "or"]
Framework = Literal["tensorflow", "pytorch"]
Engine = Literal["copy", "fluid"]
AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]
DependencyKind = Literal["data", "order", "gate", "dataset"]
# Kubernetes' container image pull policies (core/v1 PullPolicy).
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
# Kubernetes' toleration and node selector operators (core/v1 TolerationOperator,
# NodeSelectorOperator), and the GPU vendors `resources { gpu_vendor }` names.
TolerationOperator = Literal["Equal", "Exists"]
NodeOperator = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
GpuVendor = Literal["nvidia", "amd"]
# When Argo deletes a run's pods (WorkflowSpec.podGC.strategy, written in snake case).
PodGC = Literal["on_pod_success", "on_pod_completion", "on_workflow_success",
                "on_workflow_completion"]
# Which failed attempts a retry retries: a lost pod ("error"), a non-zero exit ("failure").
RetryOn = Literal["any", "error", "failure"]
# What a dependency waits for: its step succeeded, failed, or ended either way.
Outcome = Literal["succeeded", "failed", "done"]


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


_N = TypeVar("_N", bound=Node)
# How model_construct sets an instance's storage, bypassing BaseModel.__setattr__: the
# instance dict, and BaseModel's three slots through their descriptors (a third cheaper than
# object.__setattr__ by name).
_new = object.__new__  # what cls.__new__ is (BaseModel has none), without its slow lookup
_set_dict = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _trusted(cls: type[_N], values: dict[str, Any], fields_set: set[str]) -> _N:
    """An instance of ``cls`` holding ``values`` as they are: what ``cls.model_construct`` would
    build, in a fifth of its time. The checker makes tens of thousands of texts, placeholders
    and inputs from parts it has checked itself, and model_construct (which looks up every
    field's aliases and default) was the front end's largest single cost.

    ``values`` must hold every field of ``cls``, in declaration order, defaults included;
    ``fields_set`` names those the caller gave (model_construct's ``model_fields_set``). Only
    for classes without private attributes or ``model_post_init``. Its callers: the
    classmethods below, :func:`updated`, :func:`renamed_input` and :func:`copied` (Input.of
    and :func:`data_dependencies` have its body inline); tests/test_semantics.py and
    tests/test_passes_memory.py check each against model_construct or model_copy and
    validation (``==``, ``model_dump()``, ``model_fields_set``).
    """
    node = _new(cls)
    _set_dict(node, "__dict__", values)
    _set_fields_set(node, fields_set)
    _set_extra(node, None)  # extra="forbid": never any extra fields
    _set_private(node, None)
    return node


def updated(node: _N, **changes: Any) -> _N:
    """``node.model_copy(update=changes)``, built with :func:`_trusted`: the passes copy every
    step they change, and model_copy's generic handling of extra fields and private attributes
    (which IR nodes other than Pipeline have none of) doubled the cost."""
    assert node.__pydantic_private__ is None, "a node with private attributes: use model_copy"
    return _trusted(type(node), {**node.__dict__, **changes},
                    _fields_set_with(node.__pydantic_fields_set__, changes.keys()))


def assign(node: Node, **values: Any) -> None:
    """``node.NAME = value`` for each of ``values``, as pydantic's ``__setattr__`` sets a field
    of a model that does not validate assignments (its "model_field" handler: the instance
    dict, then the fields set; pydantic/main.py, _model_field_setattr_handler), in one call:
    the checker sets a dozen fields of every step it makes, and ``__setattr__`` looks up its
    handler for each. tests/test_semantics.py checks it against ``setattr``."""
    node.__dict__.update(values)
    node.__pydantic_fields_set__.update(values)


def _fields_set_with(fields_set: set[str], names: KeysView[str]) -> set[str]:
    if names <= fields_set:
        return fields_set
    return shared_fields_set(fields_set | names)


class SharedFieldsSet(set[str]):
    """A fields set held by many nodes at once. Nothing reads the sets but model_fields_set;
    pydantic's ``__setattr__`` adds the name of the field it sets, which is a no-op here only
    if the set names it already: a new name would count as set in every node sharing the set,
    so it is refused (AssertionError) rather than added. A copy (model_copy) is a set of the
    copy's own."""

    def add(self, name: str) -> None:
        if name not in self:
            raise AssertionError(f"field `{name}` assigned on a node sharing its fields set")

    def update(self, *others: Iterable[str]) -> None:  # as add: :func:`assign` calls it
        for other in others:
            for name in other:
                self.add(name)

    def __copy__(self) -> set[str]:
        return set(self)


# The shared fields sets, by their names: a pass that copies every step makes one set, not one
# per step, and so does the checker for the steps it makes (a set of a step's names is about
# a kilobyte).
_FIELDS_SETS: dict[frozenset[str], SharedFieldsSet] = {}


def shared_fields_set(names: set[str] | frozenset[str]) -> SharedFieldsSet:
    """The one SharedFieldsSet naming ``names``."""
    key = frozenset(names)
    shared = _FIELDS_SETS.get(key)
    if shared is None:
        shared = _FIELDS_SETS[key] = SharedFieldsSet(key)
    return shared


def share_fields_set(node: Node) -> None:
    """Replace ``node``'s fields set by the shared one naming the same fields: for a node the
    checker has finished, which no stage assigns a field it has not set already (dag.py's
    ``depends`` is one the checker sets on every step)."""
    fields_set = node.__pydantic_fields_set__
    if type(fields_set) is not SharedFieldsSet:  # (a shared node's is shared already)
        _set_fields_set(node, shared_fields_set(fields_set))


# The empty list and dict of the steps the checker makes (Step.of), instead of fifteen of
# their own: safe because no stage changes an IR node, nor a list or dict it holds, in place
# (cnai.passes); tests/test_semantics.py checks they are still empty after compiling every
# example and fixture.
EMPTY_LIST: list[Any] = []
EMPTY_DICT: dict[str, Any] = {}


_ARTIFACT_NAMES = frozenset(("artifact", "dataset", "model", "metrics",
                             "classification_metrics"))


class Type(Node):
    name: TypeName
    item: Type | None = None
    # ---- records and metrics (#18) ----
    # A record's fields, in the order declared; a metrics output's declared scalars.
    fields: tuple[tuple[str, Type], ...] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __str__(self) -> str:
        if self.name == "list":
            return f"list[{self.item}]"
        if self.fields is None:
            return self.name
        record = "{" + ", ".join(f"{name}: {t}" for name, t in self.fields) + "}"
        return record if self.name == "record" else f"{self.name} {record}"

    def field(self, name: str) -> Type | None:
        """The type of field ``name`` of a record (or a metrics output's scalar), or None."""
        for field_name, field_type in self.fields or ():
            if field_name == name:
                return field_type
        return None

    @property
    def is_artifact(self) -> bool:
        """An artifact type, or a list of them (fan-in). Same rule as types.is_artifact."""
        if self.name in _ARTIFACT_NAMES:
            return True
        return self.name == "list" and self.item is not None and self.item.is_artifact


# A parameter default or literal: JSON data (str, int, float, bool, lists of those).
JSONValue = JsonValue


# ---- references and expressions -----------------------------------------------------------

class ParamRef(Node):
    """A param; with ``field``, that field of a record param (``base.lr``), typed as the
    field."""

    kind: Literal["param"] = "param"
    name: str
    type: Type
    # ---- records and metrics (#18) ----
    field: str | None = None

    @classmethod
    def of(cls, name: str, type_: Type) -> ParamRef:
        """``ParamRef(name=, type=)`` without validation (see :func:`_trusted`)."""
        return _trusted(cls, {"kind": "param", "name": name, "type": type_, "field": None},
                        _NAME_TYPE)


class OutputRef(Node):
    """``STEP.OUTPUT``; ``type`` is already ``list[T]`` when read after the step's loop."""

    kind: Literal["output"] = "output"
    step: str
    output: str
    type: Type
    # ---- records and metrics (#18) ----
    field: str | None = None  # a field of a record output (``prepare.config.lr``)

    @classmethod
    def of(cls, step: str, output: str, type_: Type) -> OutputRef:
        """``OutputRef(step=, output=, type=)`` without validation (see :func:`_trusted`)."""
        return _trusted(cls, {"kind": "output", "step": step, "output": output, "type": type_,
                              "field": None}, _STEP_OUTPUT_TYPE)


class LoopVarRef(Node):
    """A loop's item; with ``field``, that field of a record item (``item.lr``), typed as
    the field."""

    kind: Literal["loop_var"] = "loop_var"
    name: str
    loop: str
    type: Type
    # ---- records and metrics (#18) ----
    field: str | None = None


class PipelineStatus(Node):
    kind: Literal["pipeline_status"] = "pipeline_status"
    type: Type = Type(name="string")


class Literal_(Node):
    kind: Literal["literal"] = "literal"
    value: JSONValue
    type: Type

    @classmethod
    def of(cls, value: str, type_: Type) -> Literal_:
        """``Literal_(value=, type=)`` of a string, without validation (see :func:`_trusted`)."""
        return _trusted(cls, {"kind": "literal", "value": value, "type": type_},
                        _VALUE_TYPE)


# Where a step input's value comes from. Literals appear when dedupe_templates lifts the
# literal differences between steps that share a template into arguments.
Source = Annotated[ParamRef | OutputRef | LoopVarRef | PipelineStatus | Literal_,
                   Field(discriminator="kind")]


class Compare(Node):
    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: Expr
    right: Expr


class BoolOp(Node):
    kind: BoolKind
    operands: list[Expr]


class Not(Node):
    kind: Literal["not"] = "not"
    operand: Expr


Expr = Annotated[Literal_ | ParamRef | OutputRef | LoopVarRef | PipelineStatus | Compare
                 | BoolOp | Not, Field(discriminator="kind")]


class Gate(Node):
    """A ``when`` condition, with the source text and span for messages and --explain."""

    expr: Expr
    text: str
    span: Span


# ---- text with placeholders (commands, args, env values) --------------------------------

class InputValue(Node):
    """The value of the step's input ``name``: the text of a parameter, the local path of an
    artifact."""

    kind: Literal["input"] = "input"
    name: str

    @classmethod
    def named(cls, name: str) -> InputValue:
        """``InputValue(name=name)`` without validation (see :func:`_trusted`)."""
        return _trusted(cls, {"kind": "input", "name": name}, _NAME)


class OutputPath(Node):
    """Where the step must write its own output ``name`` (``outputs.NAME``)."""

    kind: Literal["output_path"] = "output_path"
    name: str

    @classmethod
    def named(cls, name: str) -> OutputPath:
        """``OutputPath(name=name)`` without validation (see :func:`_trusted`)."""
        return _trusted(cls, {"kind": "output_path", "name": name}, _NAME)


Placeholder = Annotated[InputValue | OutputPath, Field(discriminator="kind")]


class Text(Node):
    """A string built from literal pieces and placeholders; a list renders as JSON text."""

    parts: list[str | Placeholder]

    @classmethod
    def of(cls, *parts: str | InputValue | OutputPath) -> Text:
        """Build without re-validation (see :func:`_trusted`): the checker made every part.
        Texts are the bulk of the IR, and validating them took a third of the front end's
        time at 1,000 steps."""
        return _trusted(cls, {"parts": list(parts)}, _ALL_FIELDS[cls])

    @property
    def is_literal(self) -> bool:
        # A plain loop, not all(): every pass and backend asks this of every text, and a
        # generator under all() costs three times as much for the usual one or two parts.
        for part in self.parts:  # noqa: SIM110
            if not isinstance(part, str):
                return False
        return True

    @property
    def literal(self) -> str:
        parts = self.parts
        if len(parts) == 1 and isinstance(parts[0], str):  # the usual literal word
            return parts[0]
        return "".join(p for p in parts if isinstance(p, str))


# Looked up once: an attribute of a pydantic model's class is found through its metaclass's
# __getattr__ hook (pydantic's ModelMetaclass), at several times the usual cost, and
# SharedNodes makes a text and a placeholder for each output that steps read.
_text_of = Text.of
_input_value_named = InputValue.named
_output_path_named = OutputPath.named


class SharedNodes:
    """The texts and placeholders that steps repeat, made once (per pipeline, per pass) and
    shared by every step that holds the same: a word (``"python"``), a parameter's value
    (``${lr}``), an output path (``outputs.model``), resources. A large pipeline repeats a
    few words across thousands of steps, and making each anew was the checker's largest
    cost. Sharing is safe because no stage changes an IR node in place: passes and backends
    build new nodes (cnai.passes)."""

    def __init__(self) -> None:
        self.texts: dict[object, Text] = {}  # by the word, or the placeholder's (kind, name)
        self.input_values: dict[str, InputValue] = {}
        self.input_texts: dict[str, Text] = {}
        self.output_paths: dict[str, OutputPath] = {}
        self.output_texts: dict[str, Text] = {}
        self.params: dict[tuple[str, Type], ParamRef] = {}
        self.resources_made: dict[tuple[tuple[str, type, object], ...], Resources] = {}

    def text(self, part: str | Placeholder) -> Text:
        """The text of one word or one placeholder."""
        key = part if isinstance(part, str) else (part.kind, part.name)
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = _text_of(part)
        return found

    def input_text(self, name: str) -> Text:
        """``text(input_value(name))``: the text of the input's value alone (``${lr}``)."""
        found = self.input_texts.get(name)
        if found is None:
            found = self.input_texts[name] = self.text(self.input_value(name))
        return found

    def input_value(self, name: str) -> InputValue:
        found = self.input_values.get(name)
        if found is None:
            found = self.input_values[name] = _input_value_named(name)
        return found

    def output_text(self, name: str) -> Text:
        """``text(output_path(name))``: the text of the step's output path alone."""
        found = self.output_texts.get(name)
        if found is None:
            found = self.output_texts[name] = self.text(self.output_path(name))
        return found

    def output_path(self, name: str) -> OutputPath:
        found = self.output_paths.get(name)
        if found is None:
            found = self.output_paths[name] = _output_path_named(name)
        return found

    def param_ref(self, name: str, type_: Type) -> ParamRef:
        found = self.params.get((name, type_))
        if found is None:
            found = self.params[name, type_] = ParamRef.of(name, type_)
        return found

    def resources(self, values: dict[str, Any]) -> Resources:
        """``Resources.model_validate(values)``, made once for the steps asking for the same
        plain values (``cpu = 4`` in every step); made anew for ``devices`` or a GPU count
        from a param. The value's class is part of the key: ``1 == 1.0 == True``."""
        if not all(value is None or value.__class__ in (str, int, float, bool)
                   for value in values.values()):
            return Resources.model_validate(values)
        key = tuple([(name, value.__class__, value) for name, value in values.items()])
        found = self.resources_made.get(key)
        if found is None:
            found = self.resources_made[key] = Resources.model_validate(values)
        return found


# ---- steps ------------------------------------------------------------------------------

class Input(Node):
    """A named input of a step and where its value comes from."""

    name: str
    source: Source
    type: Type
    span: Span | None = None  # where the step first reads it

    @classmethod
    def of(cls, name: str, source: ParamRef | OutputRef | LoopVarRef | PipelineStatus
           | Literal_, type_: Type, span: Span | None = None) -> Input:
        """``Input(name=, source=, type=, span=)`` without validation (see :func:`_trusted`):
        the checker made the source and its type. Without a span, as ``Input(name=, source=,
        type=)``."""
        # (_trusted's body: a step makes several inputs.)
        node = _new(cls)
        _set_dict(node, "__dict__", {"name": name, "source": source, "type": type_, "span": span})
        _set_fields_set(node, _NAME_SOURCE_TYPE if span is None else _ALL_FIELDS[cls])
        _set_extra(node, None)
        _set_private(node, None)
        return node


class Output(Node):
    name: str
    type: Type
    path: str | None = None  # a fixed path the image writes to (``output x: T at "/p"``)
    span: Span
    stdout: bool = False  # the step's standard output (``output x: T at stdout``)
    # ---- records and metrics (#18) ----
    # A scalar a metrics output declares (``scores.accuracy``): the metrics output's name.
    metric_of: str | None = None

    @classmethod
    def of(cls, name: str, type_: Type, path: str | None, span: Span,
           stdout: bool = False, metric_of: str | None = None) -> Output:
        """``Output(name=, type=, path=, span=, stdout=, metric_of=)`` without validation (see
        :func:`_trusted`)."""
        return _trusted(cls, {"name": name, "type": type_, "path": path, "span": span,
                              "stdout": stdout, "metric_of": metric_of}, _ALL_FIELDS[cls])


class SecretRef(Node):
    name: str
    key: str


class ConfigMapRef(Node):
    name: str
    key: str


class EnvVar(Node):
    """One of ``value`` (text), ``secret``, ``config_map`` (a key of either) or ``field`` (a
    Downward API field path of the pod: ``metadata.name``)."""

    name: str
    value: Text | None = None
    secret: SecretRef | None = None
    config_map: ConfigMapRef | None = None
    field: str | None = None


# What ``env_from`` names: every key of a ConfigMap or a Secret as a variable.
EnvSourceKind = Literal["config_map", "secret"]


class EnvFrom(Node):
    kind: EnvSourceKind
    name: str


class Volume(Node):
    """``volume NAME { ... }``: exactly one source (an existing claim, a ConfigMap, a Secret,
    or an empty directory), mounted at ``path`` by the steps that say ``mount NAME``."""

    name: str
    k8s_name: str  # the pod's volume name
    claim: str | None = None
    config_map: str | None = None
    secret: str | None = None
    empty_dir: bool = False
    path: str = "/"
    read_only: bool = False  # claims; ConfigMaps and Secrets are always read-only
    sub_path: str | None = None  # claims
    size: str | None = None  # empty directories' sizeLimit
    memory: bool = False  # empty directories: backed by memory (medium Memory)
    span: Span | None = None

    @property
    def source(self) -> str:
        """Which source it is: "claim", "config_map", "secret" or "empty_dir"."""
        if self.claim is not None:
            return "claim"
        if self.config_map is not None:
            return "config_map"
        return "secret" if self.secret is not None else "empty_dir"


class Resources(Node):
    gpu: int | None = None  # from a param: its default (the quota check's), or None
    cpu: str | None = None
    memory: str | None = None
    gpu_type: str | None = None
    # ---- placement and resources ----
    gpu_param: ParamRef | None = None  # `gpu = PARAM`: the count the run passes
    cpu_request: str | None = None
    memory_request: str | None = None
    ephemeral_storage: str | None = None
    ephemeral_storage_request: str | None = None
    gpu_vendor: GpuVendor | None = None  # None: NVIDIA
    tpu: int | None = None
    tpu_accelerator: str | None = None
    tpu_topology: str | None = None
    devices: dict[str, int] = Field(default_factory=dict)  # extended resources: limits


class Toleration(Node):
    """One toleration, from kubectl's taint syntax ``KEY[=VALUE][:EFFECT]``."""

    key: str
    operator: TolerationOperator
    value: str | None = None
    effect: str | None = None  # None: every effect


class NodeRequirement(Node):
    """``KEY in (A, B)``, ``KEY notin (A)``, ``KEY``, ``!KEY``, ``KEY > N``, ``KEY < N``."""

    key: str
    operator: NodeOperator
    values: list[str] = Field(default_factory=list)


class PreferredNodes(Node):
    weight: int  # 1..100
    requirement: NodeRequirement


class NodeAffinity(Node):
    """``node_affinity { required = [...]  preferred { "EXPR" = WEIGHT } }``: the required
    expressions all hold (one node selector term); each preferred one adds its weight."""

    required: list[NodeRequirement] = Field(default_factory=list)
    preferred: list[PreferredNodes] = Field(default_factory=list)


class Retry(Node):
    limit: int
    backoff_seconds: int | None = None
    factor: int | None = None  # Argo takes whole numbers only
    on: RetryOn = "any"
    exit_codes: list[int] = Field(default_factory=list)  # retried only on these (Argo)


class Mount(Node):
    dataset: str
    path: str
    read_only: bool = True


class Dependency(Node):
    """An edge ``step -> this``; ``kind`` says why it exists (data, order, gate, dataset).

    ``span`` is where the user made it (the reference or the `after` name), for messages.
    """

    step: str
    kind: DependencyKind
    span: Span | None = None
    outcome: Outcome = "succeeded"  # `after X.failed` / `after X.done`

    @classmethod
    def of(cls, step: str, kind: DependencyKind, span: Span | None) -> Dependency:
        """``Dependency(step=, kind=, span=)`` without validation (see :func:`_trusted`)."""
        return _trusted(cls, {"step": step, "kind": kind, "span": span,
                              "outcome": "succeeded"}, _ALL_FIELDS[cls])


class Distributed(Node):
    """``distributed tensorflow|pytorch { masters workers }``: a TFJob or PyTorchJob whose
    replicas all run the step's container; ``resources`` are per replica."""

    framework: Framework
    masters: int
    workers: int

    @property
    def replicas(self) -> int:
        return self.masters + self.workers


class Scheduling(Node):
    """Where and how pods are placed: pipeline-wide, overridden field by field on a step."""

    scheduler: str | None = None  # "volcano" turns on gang scheduling for distributed steps
    queue: str | None = None
    priority: str | None = None  # a PriorityClass name
    spot: bool = False
    span: Span | None = None  # the `scheduling` block that set the last of these


class Security(Node):
    """``security { ... }``: who a step's processes run as, and that its pods meet the
    `restricted` Pod Security Standard (backends/identity.py). Pipeline-wide, overridden field
    by field on a step."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None  # rendered true unless written false
    fs_group: int | None = None
    read_only_root_filesystem: bool | None = None
    span: Span | None = None  # the `security` block that set the last of these


class Quota(Node):
    gpu: int | None = None
    cpu: str | None = None
    memory: str | None = None
    span: Span


class Serving(Node):
    """What a ``service`` adds to its container: a Knative Service, and with a canary or a
    circuit breaker, Istio routing (docs/serving.md)."""

    port: int = 8080
    protocol: Literal["http", "grpc"] = "http"
    concurrency: int | None = None
    min_scale: int | None = None
    max_scale: int | None = None
    canary_weight: int | None = None
    max_connections: int | None = None
    consecutive_errors: int | None = None
    ejection_seconds: int | None = None
    host: str | None = None


class Function(Node):
    """A Python function a step runs (semantics/pyfunctions.py). Its command runs cnai's
    runner, which needs the file's text at the path the command ends with: each target
    stages ``source`` there (function_contract.py)."""

    name: str  # the function
    module: str  # the file's name without `.py`, the module it is loaded as
    source: str  # the file's text, as written


class Step(Node):
    name: str
    k8s_name: str
    kind: Literal["container", "preload", "dataload", "distributed", "service",
                  "suspend"] = "container"  # suspend: an approval step, without an image
    span: Span
    image: str | Text  # a Text when it names params (`"train:${tag}"`)
    command: list[Text] = Field(default_factory=list)
    args: list[Text] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    resources: Resources = Field(default_factory=Resources)
    retry: Retry | None = None
    timeout_seconds: int | None = None
    cache: bool = False
    inputs: list[Input] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    mounts: list[Mount] = Field(default_factory=list)
    depends: list[Dependency] = Field(default_factory=list)
    when: Gate | None = None
    group: str | None = None
    runtime: str | None = None  # one of our runtime_images (e.g. "preload"); image is then ""
    distributed: Distributed | None = None
    scheduling: Scheduling | None = None  # effective: the pipeline's, with the step's on top
    disruption_budget: int | None = None
    serving: Serving | None = None
    template: str | None = None  # steps sharing one Argo template / KFP component (dedupe)
    fills: str | None = None  # preload and dataload steps: the data set they fill
    image_pull_policy: PullPolicy | None = None  # the step's own, or the pipeline's
    # ---- identity, access, pod metadata and security ----
    service_account: str | None = None  # the step's own, or the pipeline's
    image_pull_secrets: list[str] = Field(default_factory=list)  # the step's own, or the pipeline's
    pod_labels: dict[str, str] = Field(default_factory=dict)  # the pipeline's, the step's on top
    pod_annotations: dict[str, str] = Field(default_factory=dict)  # as pod_labels
    security: Security | None = None  # effective: the pipeline's, the step's fields on top

    # ---- placement and resources ----
    node_selector: dict[str, str] = Field(default_factory=dict)  # the pipeline's, then own
    tolerations: list[Toleration] = Field(default_factory=list)  # own, or the pipeline's
    node_affinity: NodeAffinity | None = None  # own, or the pipeline's

    # ---- configuration and volumes ----
    env_from: list[EnvFrom] = Field(default_factory=list)  # the step's own, or the pipeline's
    volumes: list[Volume] = Field(default_factory=list)  # from `mount NAME` of a `volume`
    shm: str | None = None  # /dev/shm's size: the step's own, or the pipeline's

    # ---- workflow hygiene and failure handling ----
    continue_on_failure: bool = False  # its failure fails neither the run nor what follows

    # ---- function steps (#18) ----
    function: Function | None = None  # a Python function the step runs (`import "x.py"`)
    packages: list[str] = Field(default_factory=list)  # pip requirements installed at start

    # ---- control flow (#18) ----
    mutexes: list[str] = Field(default_factory=list)  # Argo mutexes its template holds
    semaphores: list[ConfigMapRef] = Field(default_factory=list)  # limits read from ConfigMaps
    # `suspend`: None, or seconds before it resumes by itself (0: only when resumed)
    suspend_seconds: int | None = None

    @classmethod
    def of(cls, name: str, k8s_name: str, span: Span, image: str | Text,
           outputs: list[Output], group: str | None, resources: Resources) -> Step:
        """``Step(name=, k8s_name=, span=, image=, outputs=, group=)`` without validation (see
        :func:`_trusted`): the checker makes one per step, then sets its other fields. Its
        empty lists and dicts are EMPTY_LIST and EMPTY_DICT, and ``resources`` (equal to
        ``Resources()``) may be another step's too: a field is set, never changed in place.
        The other fields' values come from their declarations (_STEP_START)."""
        values = _STEP_START.copy()  # in declaration order, which the copy and update keep
        values.update(name=name, k8s_name=k8s_name, span=span, image=image, outputs=outputs,
                      group=group, resources=resources)
        # A set of its own: pydantic adds to it each field the checker sets next.
        return _trusted(cls, values, {"name", "k8s_name", "span", "image", "outputs", "group"})

    @classmethod
    def made(cls, given: dict[str, Any], resources: Resources) -> Step:
        """A step holding ``given`` (the fields Step.of is given and those the checker sets,
        by name), ``resources`` unless given, and Step.of's values of the others: Step.of,
        then :func:`assign` of the rest and :func:`share_fields_set`, in one, for a step
        whose every field is known before it is made (StepChecker._common_step). Its fields
        set names ``given``, shared with every step given the same names in the same order
        (a tuple of them is cheaper to look up than a set)."""
        values = _STEP_START.copy()  # in declaration order, which the updates keep
        values["resources"] = resources
        values.update(given)
        names = tuple(given)
        fields_set = _GIVEN_FIELDS_SETS.get(names)
        if fields_set is None:
            fields_set = _GIVEN_FIELDS_SETS[names] = shared_fields_set(set(names))
        return _trusted(cls, values, fields_set)

    def input(self, name: str) -> Input:
        return next(i for i in self.inputs if i.name == name)

    def output(self, name: str) -> Output:
        return next(o for o in self.outputs if o.name == name)


def _step_start() -> dict[str, Any]:
    """Every ir.Step field's value before the checker sets any, in declaration order: its
    default, EMPTY_LIST or EMPTY_DICT where its default factory makes an empty list or dict,
    None where Step.of is given the value (_STEP_GIVEN). Derived from the declarations, so a
    new field needs nothing here."""
    start: dict[str, Any] = {}
    for name, info in Step.model_fields.items():
        factory = info.default_factory
        if name in _STEP_GIVEN:
            start[name] = None
        elif factory is list:
            start[name] = EMPTY_LIST
        elif factory is dict:
            start[name] = EMPTY_DICT
        else:
            assert factory is None and not info.is_required(), name  # give it to Step.of
            start[name] = info.default
    return start


_STEP_GIVEN = frozenset(("name", "k8s_name", "span", "image", "outputs", "group", "resources"))
_STEP_START = _step_start()
_GIVEN_FIELDS_SETS: dict[tuple[str, ...], SharedFieldsSet] = {}  # Step.made's, by the names


# The fields sets the fast constructors give, each shared by all the nodes they make (tens of
# thousands at 10,000 steps, 216 bytes each when made anew): every field of the class, or the
# fields given (model_construct's fields set). Shared sets refuse a field assigned that they
# do not name (SharedFieldsSet); model_copy copies the set before adding to it
# (pydantic/main.py: __setattr__'s _SIMPLE_SETATTR_HANDLERS "model_field", __copy__,
# model_copy).
_ALL_FIELDS: dict[type[Node], set[str]] = {
    cls: shared_fields_set(set(cls.model_fields)) for cls in (Text, Input, Output, Dependency)}
_NAME = shared_fields_set({"name"})
_NAME_TYPE = shared_fields_set({"name", "type"})
_NAME_SOURCE_TYPE = shared_fields_set({"name", "source", "type"})
_STEP_OUTPUT_TYPE = shared_fields_set({"step", "output", "type"})
_VALUE_TYPE = shared_fields_set({"value", "type"})


# ---- groups: loops, if/else branches, finally --------------------------------------------

class Loop(Node):
    """``for VAR in ITEMS [parallel N] { ... }``: the steps inside run once per item."""

    kind: Literal["loop"] = "loop"
    id: str  # stable and DNS-1123: "for-lr", "for-lr-2"
    var: str
    items: Literal_ | ParamRef | OutputRef | LoopVarRef
    item_type: Type
    parallelism: int | None = None
    parent: str | None = None
    span: Span


class Branch(Node):
    """One branch of ``if / else if / else``. It runs when its own condition holds and every
    earlier branch of its chain did not (``else`` has no condition of its own)."""

    kind: Literal["branch"] = "branch"
    id: str  # "condition-1", ...
    chain: str  # shared by the branches of one if / else if / else
    index: int  # position in the chain
    condition: Gate | None = None
    parent: str | None = None
    span: Span


class Finally(Node):
    """``finally { ... }``: runs after everything else, whatever happened."""

    kind: Literal["finally"] = "finally"
    id: str = "finally"
    parent: None = None
    span: Span


Group = Annotated[Loop | Branch | Finally, Field(discriminator="kind")]


class Param(Node):
    name: str
    type: Type
    default: JSONValue | None = None
    span: Span


class Dataset(Node):
    """A data set; its source is a literal URI or a string param/output (``source_ref``)."""

    name: str
    k8s_name: str
    source: str | None = None
    source_ref: ParamRef | OutputRef | None = None
    path: str
    size: str
    engine: Engine = "copy"
    access_mode: AccessMode = "ReadWriteMany"
    storage_class: str | None = None
    credentials: str | None = None  # a Secret the preload reads its keys from (copy engine)
    span: Span


class PipelineOutput(Node):
    """``output NAME: TYPE = STEP.OUT``: what the pipeline gives one using it as a step."""

    name: str
    source: OutputRef
    span: Span


class Pipeline(Node):
    name: str
    k8s_name: str
    description: str | None = None
    params: list[Param] = Field(default_factory=list)
    datasets: list[Dataset] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    schedule: str | None = None  # cron; Argo CronWorkflow, KFP recurring run via submit
    # Indexes by name, each kept with the list it was made from and its length, so that a
    # new list (a pass's copy) or one grown in place is indexed anew.
    _index: tuple[list[Step], int, dict[str, Step]] | None = PrivateAttr(default=None)
    _group_index: tuple[list[Group], int, dict[str, Group]] | None = PrivateAttr(default=None)
    _dataset_index: tuple[list[Dataset], int, dict[str, Dataset]] | None = PrivateAttr(
        default=None)
    _chain_index: tuple[list[Group], int, dict[str, list[Branch]]] | None = PrivateAttr(
        default=None)
    quota: Quota | None = None
    scheduling: Scheduling | None = None  # the pipeline's own; steps hold their effective one
    image_pull_policy: PullPolicy | None = None  # the steps' default
    # ---- identity, access, pod metadata and security ----
    service_account: str | None = None  # the steps' default; `cnai submit` overrides it
    image_pull_secrets: list[str] = Field(default_factory=list)  # the steps' default
    pod_labels: dict[str, str] = Field(default_factory=dict)  # every step's, under its own
    pod_annotations: dict[str, str] = Field(default_factory=dict)
    security: Security | None = None  # the pipeline's own; steps hold their effective one

    # ---- placement and resources ----
    node_selector: dict[str, str] = Field(default_factory=dict)  # the steps' defaults
    tolerations: list[Toleration] = Field(default_factory=list)
    node_affinity: NodeAffinity | None = None

    # ---- configuration and volumes ----
    env: list[EnvVar] = Field(default_factory=list)  # every step's defaults, key by key
    env_from: list[EnvFrom] = Field(default_factory=list)  # the steps' default
    volumes: list[Volume] = Field(default_factory=list)  # `volume` declarations
    shm: str | None = None  # the steps' default

    # ---- workflow hygiene and failure handling ----
    timeout_seconds: int | None = None  # the whole run's deadline
    ttl_seconds: int | None = None  # how long a finished run is kept
    pod_gc: PodGC | None = None
    parallelism: int | None = None  # the most pods at once
    labels: dict[str, str] = Field(default_factory=dict)  # the run's own
    annotations: dict[str, str] = Field(default_factory=dict)
    run_priority: int | None = None  # among runs the controller queues

    # ---- control flow (#18) ----
    mutexes: list[str] = Field(default_factory=list)  # held by the whole run (the Workflow)
    semaphores: list[ConfigMapRef] = Field(default_factory=list)
    outputs: list[PipelineOutput] = Field(default_factory=list)  # for pipelines using it
    # What the pipelines it uses as steps give (inlined: semantics/nested.py), read or not
    given: list[OutputRef] = Field(default_factory=list)
    span: Span

    def _indexed(self, key: str, items: list[Any], build: Callable[[list[Any]], Any]) -> Any:
        """``build(items)``, made once per list. The private attributes are read from
        ``__pydantic_private__`` directly: through the attribute (BaseModel.__getattr__) the
        lookup cost more than the index saves on a pipeline's every reference."""
        private = self.__pydantic_private__
        assert private is not None
        cached = private[key]
        if cached is None or cached[0] is not items or cached[1] != len(items):
            cached = private[key] = (items, len(items), build(items))
        return cached[2]

    def group(self, group_id: str) -> Loop | Branch | Finally:
        """The group with id ``group_id``; indexed like :meth:`step` (every step's ancestors
        are looked up through here)."""
        groups: dict[str, Loop | Branch | Finally] = self._indexed(
            "_group_index", self.groups, lambda items: {g.id: g for g in items})
        return groups[group_id]

    def chain(self, chain_id: str) -> list[Branch]:
        """The branches of if/else chain ``chain_id``, in order; indexed like :meth:`group`
        (backends ask it per branch, and scanning every group each time was quadratic)."""
        chains: dict[str, list[Branch]] = self._indexed("_chain_index", self.groups, _chains)
        return chains[chain_id]

    def ancestors(self, group_id: str | None) -> list[Loop | Branch | Finally]:
        """The group and its enclosing groups, innermost first."""
        chain = []
        while group_id is not None:
            group = self.group(group_id)
            chain.append(group)
            group_id = group.parent
        return chain

    def loops_around(self, group_id: str | None) -> list[Loop]:
        """The loops at ``group_id`` (itself, if it is one) and around it, innermost first."""
        return [g for g in self.ancestors(group_id) if isinstance(g, Loop)]

    def step(self, name: str) -> Step:
        """The step named ``name``; an index kept for the current ``steps`` list (backends
        look steps up by name for every reference)."""
        steps: dict[str, Step] = self._indexed(
            "_index", self.steps, lambda items: {s.name: s for s in items})
        return steps[name]

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def dataset(self, name: str) -> Dataset:
        """The data set named ``name``; indexed like :meth:`step` (backends look one up for
        every mount of every step)."""
        datasets: dict[str, Dataset] = self._indexed(
            "_dataset_index", self.datasets, lambda items: {d.name: d for d in items})
        return datasets[name]


def _chains(groups: list[Group]) -> dict[str, list[Branch]]:
    """Each if/else chain's branches, in order."""
    chains: dict[str, list[Branch]] = {}
    for group in groups:
        if isinstance(group, Branch):
            chains.setdefault(group.chain, []).append(group)
    for branches in chains.values():
        branches.sort(key=lambda b: b.index)
    return chains

Compare.model_rebuild()
BoolOp.model_rebuild()
Not.model_rebuild()
Gate.model_rebuild()


def renamed_input(item: Input, name: str) -> Input:
    """``updated(item, name=name)``, for the passes that rename every input of thousands of
    steps (dedupe_templates): the name is a required field, so it is in the input's fields
    set already, and the values are copied as they are."""
    values = item.__dict__.copy()
    values["name"] = name
    return _trusted(Input, values, item.__pydantic_fields_set__)


def assign_each(nodes: list[_N], name: str, values: list[Any]) -> None:
    """:func:`assign` of one field, ``NAME=value``, to each of ``nodes`` with its value, in
    one call: build_graph sets every step's ``depends``, and assign's keyword arguments and
    the shared fields sets' ``update`` cost three calls per step. A fields set that names the
    field already (a step's, from the checker) is left as it is, as assign leaves it."""
    for node, value in zip(nodes, values, strict=True):
        node.__dict__[name] = value
        fields_set = node.__pydantic_fields_set__
        if name not in fields_set:
            fields_set.add(name)  # a SharedFieldsSet refuses it, as with assign


def copied(node: _N, changes: dict[str, Any], fields_set: set[str]) -> _N:
    """``updated(node, **changes)`` given the copy's fields set, which must be the node's with
    the names of ``changes`` added (``shared_fields_set(node's | names)``, or the node's if
    it names them all): for a pass that copies thousands of steps changing the same fields,
    which makes that set once per set copied rather than once per step (_fields_set_with
    makes a frozenset of every name to look the shared one up). The node's dict is copied,
    then changed: cheaper than a merge of the two."""
    assert node.__pydantic_private__ is None, "a node with private attributes: use model_copy"
    values = node.__dict__.copy()
    values.update(changes)
    return _trusted(type(node), values, fields_set)


def data_dependencies(reads: dict[str, Span | None]) -> list[Dependency]:
    """``Dependency.of(step, "data", span)`` for each step and span of ``reads``, sorted by
    step, without two calls per edge (build_graph makes one for every output a step reads;
    _trusted's body as in Input.of)."""
    edges = []
    for step in sorted(reads):
        node = _new(Dependency)
        _set_dict(node, "__dict__", {"step": step, "kind": "data", "span": reads[step],
                                     "outcome": "succeeded"})
        _set_fields_set(node, _ALL_FIELDS[Dependency])
        _set_extra(node, None)
        _set_private(node, None)
        edges.append(node)
    return edges
