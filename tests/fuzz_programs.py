"""A hypothesis strategy for valid .cnai programs (#15 item 9), valid by construction.

`programs()` draws a whole file from the constructs of docs/language.md: params of every type
with defaults, data sets (copy and Fluid) and `mount`, steps with image, command, args, env
(with `secret()`), typed outputs (some `at` a fixed path), text with interpolations of params,
outputs, loop variables and data set paths, `after`, `when` gates (typed comparisons, `and`,
`or`, `not`, parentheses), `for` loops (literal lists, list params, list outputs, list loop
variables, `parallel N`, nested), fan-in after loops, `if` / `else if` / `else` chains,
`finally` with `pipeline.status`, `retry`, `resources`, `timeout`, `cache`, `scheduling`,
templates (in the file and in the pipeline) taken with `use`, `schedule`, `quota`,
distributed steps and services.

What keeps a program valid, rule by rule of docs/language.md:

- every name is a word, `_` and a number no other name has, so names are unique, stay unique
  once made Kubernetes names or upper-cased (E0101, E0107, E0114) and are never keywords or
  reserved (E0208);
- a step reads only what is visible where it stands: params, enclosing loop variables,
  outputs of steps declared before it in its own or an enclosing block, so the graph is a
  DAG; after a loop, a parameter output of a step directly in that loop (fan-in, one level),
  and only of a step that runs in every iteration (Kubeflow refuses the others, E0401);
  artifacts are never gathered (E0401) nor read by a distributed step or a service (E0401);
- `finally` steps read params and each other only, and `pipeline.status` (E0201);
- gates compare numbers with numbers, strings and bools with `==` / `!=` only (E0203), and
  read scalars only (E0201); the first step has no gate, so folding constant gates never
  leaves the pipeline empty (E0106);
- integers stay within 2^53, which Kubeflow carries exactly (E0401); texts never hold `{{`
  (E0208); a quota is large enough for any step (E0209);
- scheduler and priority only in a distributed step's `scheduling` (Kubeflow, E0401);
- service names of at most 47 characters (Knative revision names, E0208); durations of whole
  seconds (E0207); `scale` max and circuit breaker limits at least 1 (E0208).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

SCALARS = ("int", "float", "string", "bool")
ARTIFACTS = ("artifact", "dataset", "model", "metrics")
LISTS = ("list[int]", "list[float]", "list[string]", "list[bool]")
PARAM_TYPES = (*SCALARS, *LISTS, "list[list[int]]")
OUTPUT_TYPES = (*SCALARS, "list[string]", "list[int]", *ARTIFACTS)
MAX_INT = 2**53  # Kubeflow carries numbers as doubles (docs/kfp.md, "What Kubeflow refuses")
WORDS = st.from_regex(r"[A-Za-z][A-Za-z_]{0,9}", fullmatch=True) | st.sampled_from(
    ["n" * 60, "Train__Small", "lr", "LR", "preload", "x", "outputs", "in", "step", "pipeline",
     "inputs", "item", "tasks", "workflow"])
# Text characters: plain, the escapes, the characters Kubernetes, Argo, Kubeflow, YAML and
# JSON give a meaning, and unicode.
TEXT_CHARS = st.sampled_from(
    [*"abcXYZ09 -_./:@%!?'()[]<>*&^~|;,+=#", "{", "}", "$", '"', "\\", "\n", "\t", "é", "日",
     "\U0001f600", "\u2028", "\x85", "\ufeff", "\x7f"])
IMAGES = ("python:3.12", "busybox:1.36", "registry.example.com/ml/api:1.0",
          "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime", "ghcr.io/o/i@sha256:" + "a" * 64)
CRONS = ("0 2 * * *", "*/15 * * * MON-FRI", "@daily", "@hourly", "5 4 1 1 *")
DURATIONS = ("1s", "30s", "5m", "2h", "1d", "1h30m", "2000ms", "90s")
CPU = ('"500m"', '"1"', "2", "0.5", '"1.5"', '"1e3"', "32", '"7500m"')
MEMORY = ('"16Gi"', '"512Mi"', "1073741824", '"1e9"', '"2G"', '"1Ti"')


def _escape(text: str) -> str:
    """`text` as the inside of a .cnai string literal: escapes for `"`, `\\`, new line and
    tab; `$` as `\\$` where a `{` or the end follows (elsewhere it is plain text)."""
    out = []
    for index, char in enumerate(text):
        if char == "$" and text[index + 1:index + 2] in ("{", ""):
            out.append("\\$")
        else:
            out.append({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}.get(char, char))
    return "".join(out)


def plain_texts(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(TEXT_CHARS, max_size=max_size).filter(lambda t: "{{" not in t)


@dataclass
class Value:
    """Something a step may read: its reference text, its type, and the step it makes wait."""

    ref: str
    type: str
    producer: str | None = None
    conditional: bool = False  # the producer may be skipped
    gathered: bool = False  # a fan-in list


@dataclass
class Scope:
    kind: str  # top, loop, branch, finally
    parent: Scope | None = None
    values: list[Value] = field(default_factory=list)  # loop variable, outputs of its steps
    steps: list[tuple[str, bool]] = field(default_factory=list)  # (name, conditional)
    conditional: bool = False

    def chain(self) -> list[Scope]:
        scope: Scope | None = self
        found = []
        while scope is not None:
            found.append(scope)
            scope = scope.parent
        return found


@dataclass
class Template:
    name: str
    params: list[tuple[str, str, bool]]  # name, type, has a default
    outputs: list[tuple[str, str]]


class Program:
    """One program being drawn; `text()` is the file."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.counter = 0
        self.lines: list[str] = []
        self.params: list[Value] = []
        self.datasets: list[str] = []
        self.templates: list[Template] = []
        self.services: list[str] = []
        self.steps = 0
        self.top = Scope("top")

    # ---- helpers ---------------------------------------------------------------------
    def name(self) -> str:
        self.counter += 1
        return f"{self.draw(WORDS)}_{self.counter}"

    def flip(self, percent: int = 50) -> bool:
        return self.draw(st.integers(0, 99)) < percent

    def pick(self, options: list[str] | tuple[str, ...]) -> str:
        return self.draw(st.sampled_from(list(options)))

    def string(self, max_size: int = 12) -> str:
        return '"' + _escape(self.draw(plain_texts(max_size))) + '"'

    def int_literal(self) -> str:
        return str(self.draw(st.integers(-MAX_INT, MAX_INT) | st.integers(-3, 100)))

    def float_literal(self) -> str:
        value = self.draw(st.floats(allow_nan=False, allow_infinity=False, width=64)
                          | st.sampled_from([0.5, 1e-3, -2.5, 1e300, 5e-324, -0.0]))
        return repr(value)

    def literal(self, type_: str) -> str:
        if type_ == "int":
            return self.int_literal()
        if type_ == "float":
            return self.float_literal() if self.flip(80) else self.int_literal()
        if type_ == "string":
            return self.string()
        if type_ == "bool":
            return self.pick(("true", "false"))
        item = type_[5:-1]
        size = self.draw(st.integers(0, 4))
        return "[" + ", ".join(self.literal(item) for _ in range(size)) + "]"

    # ---- what a step may read ----------------------------------------------------------
    def visible(self, scope: Scope) -> list[Value]:
        values = list(self.params)
        chain = scope.chain()
        if chain[-1] is not self.top:
            raise AssertionError("scope outside the pipeline")
        for outer in chain:
            if outer.kind == "finally":
                return values + outer.values
            values += outer.values
        return values

    def after_candidates(self, scope: Scope) -> list[tuple[str, bool]]:
        if scope.kind == "finally":
            return list(scope.steps)
        found = [(s, False) for s in self.services]
        for outer in scope.chain():
            found += outer.steps
        return found

    # ---- texts -------------------------------------------------------------------------
    def text_value(self, values: list[Value], own: list[str], mounts: list[str],
                   in_finally: bool) -> tuple[str, list[Value]]:
        """One item of a command, args or env: (source text, values read)."""
        kind = self.draw(st.integers(0, 9))
        if kind == 0:
            return self.int_literal(), []
        if kind == 1:
            return self.pick(("true", "false", "0.001", "1e-3", "-2.5")), []
        if kind == 2 and values:
            value = self.draw(st.sampled_from(values))
            return value.ref, [value]
        if kind == 3 and own:
            return f"outputs.{self.pick(own)}", []
        if kind == 4 and mounts:
            return f"{self.pick(mounts)}.path", []
        # a string: plain pieces and interpolations
        pieces, read = [], []
        for _ in range(self.draw(st.integers(1, 4))):
            choice = self.draw(st.integers(0, 5))
            if choice == 0 and values:
                value = self.draw(st.sampled_from(values))
                space = self.pick(("", " "))
                pieces.append(f"${{{space}{value.ref}{space}}}")
                read.append(value)
            elif choice == 1 and in_finally:
                pieces.append("${pipeline.status}")
            elif choice == 2 and mounts:
                pieces.append(f"${{{self.pick(mounts)}.path}}")
            else:
                pieces.append(_escape(self.draw(plain_texts())))
        text = "".join(pieces)
        if "{{" in text:
            return '"x"', []
        return f'"{text}"', read

    def text_list(self, values: list[Value], own: list[str], mounts: list[str],
                  in_finally: bool, min_size: int = 0) -> tuple[str, list[Value]]:
        items, read = [], []
        for _ in range(self.draw(st.integers(min_size, 4))):
            item, used = self.text_value(values, own, mounts, in_finally)
            items.append(item)
            read += used
        return "[" + ", ".join(items) + "]", read

    # ---- gates -------------------------------------------------------------------------
    def condition(self, values: list[Value], depth: int = 0) -> tuple[str, list[Value]]:
        kind = self.draw(st.integers(0, 6 if depth < 2 else 2))
        if kind <= 1:
            return self.comparison(values)
        if kind == 2:
            bools = [v for v in values if v.type == "bool"]
            if bools:
                value = self.draw(st.sampled_from(bools))
                return value.ref, [value]
            return self.comparison(values)
        if kind == 3:
            inner, read = self.condition(values, depth + 1)
            return f"not {self.wrap(inner)}", read
        left, read_left = self.condition(values, depth + 1)
        right, read_right = self.condition(values, depth + 1)
        op = "and" if kind in (4, 5) else "or"
        return f"{self.wrap(left)} {op} {self.wrap(right)}", read_left + read_right

    def wrap(self, condition: str) -> str:
        if " " in condition and (self.flip(70) or " or " in condition):
            return f"({condition})"
        return condition

    def comparison(self, values: list[Value]) -> tuple[str, list[Value]]:
        group = self.pick(("number", "string", "bool"))
        types = {"number": ("int", "float"), "string": ("string",), "bool": ("bool",)}[group]
        ops = ("==", "!=", "<", "<=", ">", ">=") if group == "number" else ("==", "!=")
        candidates = [v for v in values if v.type in types]
        read = []
        operands = []
        for _ in range(2):
            if candidates and self.flip(70):
                value = self.draw(st.sampled_from(candidates))
                operands.append(value.ref)
                read.append(value)
            else:
                literal_type = self.pick(types)
                if literal_type == "string":
                    operands.append('"' + _escape(self.draw(plain_texts()).replace("$", "")) + '"')
                else:
                    operands.append(self.literal(literal_type))
        return f"{operands[0]} {self.pick(ops)} {operands[1]}", read

    # ---- declarations ------------------------------------------------------------------
    def param(self) -> None:
        type_ = self.pick(PARAM_TYPES)
        name = self.name()
        default = f" = {self.literal(type_)}" if self.flip(85) else ""
        self.lines.append(f"  param {name}: {type_}{default}")
        self.params.append(Value(name, type_))

    def dataset(self) -> None:
        name = self.name()
        strings = [p for p in self.params if p.type == "string"]
        if strings and self.flip(40):
            source = self.draw(st.sampled_from(strings)).ref
        else:
            source = self.pick(('"s3://bucket/data"', '"gs://b/k"', '"https://h/x.tar"',
                                '"pvc://claim-1/dir"', '"/srv/data"'))
        fields = [f"source = {source}", f'path = "/data/{name}"',
                  f"size = {self.pick(CPU + MEMORY)}"]
        if self.flip(30):
            fields.append('access_mode = "' + self.pick(
                ("ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany", "ReadWriteOncePod")) + '"')
        if self.flip(30):
            fields.append('storage_class = "fast-nvme"')
        if self.flip(60):
            fields.append(f'engine = "{self.pick(("copy", "fluid"))}"')
        self.lines.append(f"  dataset {name} {{ " + "  ".join(fields) + " }")
        self.datasets.append(name)

    def template(self, indent: str) -> None:
        name = self.name()
        params = []
        for _ in range(self.draw(st.integers(0, 3))):
            params.append((self.name(), self.pick(SCALARS), self.flip(40)))
        outputs = [(self.name(), self.pick(OUTPUT_TYPES))
                   for _ in range(self.draw(st.integers(0, 2)))]
        signature = ", ".join(
            f"{p}: {t}" + (f" = {self.literal(t)}" if default else "")
            for p, t, default in params)
        command = ['"run"'] + [f'"${{{p}}}"' if self.flip() else f'"--{p}"' for p, _, _ in params]
        command += [f"outputs.{o}" for o, _ in outputs]
        body = [f'image = "{self.pick(IMAGES)}"', f"command = [{', '.join(command)}]"]
        if self.flip(40):
            body.append(f"resources {{ memory = {self.pick(MEMORY)} }}")
        body += [f"output {o}: {t}" for o, t in outputs]
        self.lines.append(f"{indent}template {name}({signature}) {{")
        self.lines += [f"{indent}  {line}" for line in body]
        self.lines.append(f"{indent}}}")
        self.templates.append(Template(name, params, outputs))

    def step(self, scope: Scope, indent: str, first: bool = False) -> None:
        name = self.name()
        in_finally = any(s.kind == "finally" for s in scope.chain())
        distributed = scope is self.top and not first and self.flip(25)
        visible = self.visible(scope)
        if distributed:
            visible = [v for v in visible if v.type not in ARTIFACTS]
        read: list[Value] = []
        header = f"step {name}"
        waits: list[tuple[str, bool]] = []
        if not first:
            candidates = self.after_candidates(scope)
            if candidates and self.flip(30):
                waits = self.draw(st.lists(st.sampled_from(candidates), min_size=1,
                                           max_size=2, unique=True))
                header += " after " + ", ".join(w for w, _ in waits)
            if self.flip(30):
                gate, used = self.condition([v for v in visible if v.type in SCALARS])
                header += f" when {gate}"
                read += used
        body: list[str] = []
        outputs: list[tuple[str, str]] = []
        template = None
        if self.templates and not distributed and self.flip(25):
            template = self.draw(st.sampled_from(self.templates))
            outputs += template.outputs
            args = []
            for p, t, default in template.params:
                if default and self.flip():
                    continue
                fits = [v for v in visible if v.type == t]
                if fits and self.flip():
                    value = self.draw(st.sampled_from(fits))
                    args.append(f"{p} = {value.ref}")
                    read.append(value)
                else:
                    args.append(f"{p} = {self.literal(t)}")
            body.append(f"use {template.name}({', '.join(args)})")
        if not distributed:
            for _ in range(self.draw(st.integers(0, 3))):
                type_ = self.pick(OUTPUT_TYPES)
                outputs.append((self.name(), type_))
        own = [o for o, _ in outputs]
        mounts = [] if in_finally or not self.datasets else self.draw(
            st.lists(st.sampled_from(self.datasets), max_size=2, unique=True))
        if template is None or self.flip(30):
            body.append(f'image = "{self.pick(IMAGES)}"')
        if template is None or self.flip(30):
            command, used = self.text_list(visible, own, mounts, in_finally, min_size=1)
            body.append(f"command = {command}")
            read += used
        if self.flip(40):
            args_text, used = self.text_list(visible, own, mounts, in_finally)
            body.append(f"args = {args_text}")
            read += used
        if self.flip(40):
            env = []
            for _ in range(self.draw(st.integers(1, 3))):
                key = self.name().upper() if self.flip() else self.name()
                if self.flip(25):
                    env.append(f'{key} = secret("{self.pick(("wandb", "s-1", "a.b"))}", '
                               f'"{self.pick(("api-key", "k_1", "token.txt"))}")')
                else:
                    value, used = self.text_value(visible, own, mounts, in_finally)
                    env.append(f"{key} = {value}")
                    read += used
            body.append("env { " + "  ".join(env) + " }")
        body += [f"mount {m}" for m in mounts]
        for output_name, type_ in outputs[len(template.outputs) if template else 0:]:
            where = f' at "/out/{output_name}"' if self.flip(20) else ""
            body.append(f"output {output_name}: {type_}{where}")
        if self.flip(30) or distributed:
            resources = []
            gpu = self.draw(st.integers(0, 4))
            if self.flip():
                resources.append(f"gpu = {gpu}")
                if gpu and self.flip():
                    resources.append('gpu_type = "NVIDIA-A100-SXM4-80GB"')
            if self.flip():
                resources.append(f"cpu = {self.pick(CPU)}")
            if self.flip():
                resources.append(f"memory = {self.pick(MEMORY)}")
            body.append("resources { " + "  ".join(resources) + " }")
        if self.flip(20):
            retry = [f"limit = {self.draw(st.integers(0, 5))}"]
            if self.flip():
                retry.append(f'backoff = "{self.pick(DURATIONS)}"')
                if self.flip():
                    retry.append(f"factor = {self.draw(st.integers(1, 4))}")
            body.append("retry { " + "  ".join(retry) + " }")
        if self.flip(20):
            body.append(f'timeout = "{self.pick(DURATIONS)}"')
        if self.flip(20):
            body.append(f"cache = {self.pick(('true', 'false'))}")
        scheduling = []
        if self.flip(15):
            scheduling.append(f'queue = "{self.pick(("training", "q-1"))}"')
        if self.flip(15):
            scheduling.append(f"spot = {self.pick(('true', 'false'))}")
        if distributed:
            if self.flip(30):
                scheduling.append('scheduler = "volcano"')
            if self.flip(30):
                scheduling.append('priority = "high"')
            # Both frameworks, whatever Hypothesis' draws lean to: by the step's position too.
            if self.flip() != (self.steps % 2 == 1):
                masters, workers, framework = 1, self.draw(st.integers(0, 4)), "pytorch"
            else:
                masters, workers = self.draw(st.integers(0, 1)), self.draw(st.integers(0, 4))
                framework = "tensorflow"
                workers = max(workers, 1 - masters)
            body.append(f"distributed {framework} {{ masters = {masters}  workers = {workers} }}")
            if self.flip(30):
                budget = self.draw(st.integers(0, masters + workers))
                body.append(f"disruption_budget = {budget}")
        if scheduling:
            body.append("scheduling { " + "  ".join(scheduling) + " }")
        self.lines.append(f"{indent}{header} {{")
        self.lines += [f"{indent}  {line}" for line in body]
        self.lines.append(f"{indent}}}")
        self.steps += 1
        conditional = (scope.conditional or " when " in header
                       or any(v.conditional for v in read) or any(c for _, c in waits))
        scope.steps.append((name, conditional))
        for output_name, type_ in outputs:
            scope.values.append(Value(f"{name}.{output_name}", type_, name, conditional))

    def service(self, indent: str) -> None:
        name = self.name()[-47:]  # Knative revision names, with a canary (E0208)
        visible = [v for v in self.visible(self.top) if v.type not in ARTIFACTS]
        header = f"service {name}"
        candidates = self.after_candidates(self.top)
        if candidates and self.flip(50):
            header += " after " + ", ".join(self.draw(st.lists(
                st.sampled_from([c for c, _ in candidates]), min_size=1, max_size=2,
                unique=True)))
        body = [f'image = "{self.pick(IMAGES)}"']
        if self.flip(30):
            body.append(f"command = {self.text_list(visible, [], [], False, 1)[0]}")
        if self.flip(30):
            value, _ = self.text_value(visible, [], [], False)
            body.append(f"env {{ MODEL = {value} }}")
        if self.flip():
            body.append(f"port = {self.draw(st.integers(1, 65535))}")
        if self.flip(30):
            body.append(f'protocol = "{self.pick(("http", "grpc"))}"')
        if self.flip(30):
            body.append(f"concurrency = {self.draw(st.integers(0, 1000))}")
        if self.flip(50):
            low = self.draw(st.integers(0, 5))
            high = max(low, 1) + self.draw(st.integers(0, 5))  # max at least 1 (E0208)
            body.append(f"scale {{ min = {low}  max = {high} }}")
        if self.flip(30):
            body.append(f"resources {{ cpu = {self.pick(CPU)} }}")
        if self.flip(60):
            body.append(f"canary {{ weight = {self.draw(st.integers(0, 100))} }}")
            if self.flip(30):
                body.append('host = "models.example.com"')
        if self.flip(50):
            body.append(f"circuit_breaker {{ max_connections = {self.draw(st.integers(1, 99))}"
                        f"  consecutive_errors = {self.draw(st.integers(1, 9))}"
                        f'  ejection = "{self.pick(DURATIONS[:4])}" }}')
        if self.flip(20):
            body.append(f'timeout = "{self.pick(DURATIONS)}"')
        self.lines.append(f"{indent}{header} {{")
        self.lines += [f"{indent}  {line}" for line in body]
        self.lines.append(f"{indent}}}")
        self.services.append(name)

    def loop(self, scope: Scope, indent: str, depth: int) -> None:
        visible = self.visible(scope)
        sources = [v for v in visible if v.type.startswith("list[") and not v.gathered]
        var = self.name()
        if sources and self.flip(60):
            source = self.draw(st.sampled_from(sources))
            items, item_type = source.ref, source.type[5:-1]
        else:
            item_type = self.pick(SCALARS)
            size = self.draw(st.integers(1, 4))
            items = "[" + ", ".join(self.literal(item_type) for _ in range(size)) + "]"
            source = None
        parallel = f" parallel {self.draw(st.integers(1, 4))}" if self.flip(30) else ""
        self.lines.append(f"{indent}for {var} in {items}{parallel} {{")
        inner = Scope("loop", scope, [Value(var, item_type)],
                      conditional=scope.conditional or bool(source and source.conditional))
        self.block(inner, indent + "  ", depth + 1)
        self.lines.append(f"{indent}}}")
        # Fan-in: outside the loop, a parameter output of a step directly in it that runs in
        # every iteration is a list.
        for value in inner.values[1:]:
            if value.type in SCALARS and not value.conditional:
                scope.values.append(Value(value.ref, f"list[{value.type}]", value.producer,
                                          scope.conditional, gathered=True))

    def branches(self, scope: Scope, indent: str, depth: int) -> None:
        visible = [v for v in self.visible(scope) if v.type in SCALARS]
        for index in range(self.draw(st.integers(1, 3))):
            condition, _ = self.condition(visible)
            keyword = "if" if index == 0 else "} else if"
            self.lines.append(f"{indent}{keyword} {condition} {{")
            self.block(Scope("branch", scope, conditional=True), indent + "  ", depth + 1)
        if self.flip():
            self.lines.append(f"{indent}}} else {{")
            self.block(Scope("branch", scope, conditional=True), indent + "  ", depth + 1)
        self.lines.append(f"{indent}}}")

    def block(self, scope: Scope, indent: str, depth: int) -> None:
        """The items of a loop or a branch: at least one step."""
        self.step(scope, indent)
        for _ in range(self.draw(st.integers(0, 2))):
            kind = self.draw(st.integers(0, 5)) if depth < 3 else 0
            if kind == 4:
                self.loop(scope, indent, depth)
            elif kind == 5:
                self.branches(scope, indent, depth)
            else:
                self.step(scope, indent)


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A valid .cnai file."""
    program = Program(draw)
    file_templates: list[str] = []
    if program.flip(20):
        program.template("")
        file_templates, program.lines = program.lines, []
    pipeline = program.name()
    head = [f"pipeline {pipeline} {{"]
    if program.flip(30):
        head.append(f"  description = {program.string(30)}")
    if program.flip(20):
        head.append(f'  schedule = "{program.pick(CRONS)}"')
    if program.flip(15):
        fields = ['scheduler = "volcano"', 'queue = "training"', 'priority = "high"',
                  "spot = true"]
        chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True))
        head.append("  scheduling { " + "  ".join(chosen) + " }")
    if program.flip(15):
        head.append('  quota { gpu = 100000  cpu = 100000  memory = "1000Pi" }')
    program.lines = head
    for _ in range(draw(st.integers(0, 5))):
        program.param()
    for _ in range(draw(st.integers(0, 2))):
        program.dataset()
    if program.flip(30):
        program.template("  ")
    program.step(program.top, "  ", first=True)
    if program.flip(10):  # services are rare in the loop below (hypothesis favours few members)
        program.service("  ")
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 9))
        if kind <= 3:
            program.step(program.top, "  ")
        elif kind <= 5:
            program.loop(program.top, "  ", 1)
        elif kind <= 7:
            program.branches(program.top, "  ", 1)
        elif kind == 8:
            program.service("  ")
        else:
            program.template("  ")
    if program.flip(30):
        final = Scope("finally", program.top)
        program.lines.append("  finally {")
        for _ in range(draw(st.integers(1, 2))):
            program.step(final, "    ")
        program.lines.append("  }")
    program.lines.append("}")
    return "\n".join([*file_templates, *program.lines]) + "\n"
