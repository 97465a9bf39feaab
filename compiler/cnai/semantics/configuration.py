"""Configuration and volumes: environment values read from Secrets, ConfigMaps
and the pod itself, `env_from`, the pipeline's `env`, `volume` declarations and `shm`.

The functions an `env` value may call, each checked against Kubernetes' own rules
(k8s_names.py): ``secret("NAME", "KEY")`` and ``config_map("NAME", "KEY")`` (the object's
name a DNS-1123 subdomain, the key IsConfigMapKey), and ``field("PATH")``, a Downward API field
of the pod that the API server accepts as an env var's ``fieldRef``
(kubernetes pkg/apis/core/validation/validation.go, validEnvDownwardAPIFieldPathExpressions,
and validateDownwardAPIFieldPath for ``metadata.labels['KEY']`` /
``metadata.annotations['KEY']``). `env_from` takes the one-argument forms.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

from cnai.diagnostics import DiagnosticBag, Label
from cnai.limits import shown
from cnai.semantics import credentials, ir, k8s_names
from cnai.semantics.fields import FieldReader, assigned, fill
from cnai.semantics.resolver import suggest
from cnai.semantics.units import k8s_name
from cnai.source import Span
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker

ENV_FUNCTIONS = ("secret", "config_map", "field")
FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
               "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
               "status.podIPs")
_SUBSCRIPTED = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")
SHM_PATH = "/dev/shm"
RESERVED_VOLUME_PREFIX = "cnai-"  # cnai's own volumes (outputs, credentials, source, shm)
VOLUME_SOURCES = ("claim", "config_map", "secret", "empty_dir")


def field_path_problem(path: str) -> str | None:
    """What the API server would say of ``path`` as an env var's fieldRef, or None."""
    if path in FIELD_PATHS:
        return None
    subscripted = _SUBSCRIPTED.match(path)
    if subscripted is None:
        return ("is not a pod field Kubernetes passes as an environment variable: "
                + ", ".join(FIELD_PATHS) + ", metadata.labels['KEY'] or "
                "metadata.annotations['KEY']")
    # Annotation keys are checked in lower case (validateDownwardAPIFieldPath), label keys as
    # they are.
    key = subscripted[2].lower() if subscripted[1] == "annotations" else subscripted[2]
    problem = k8s_names.qualified_name(key)
    return None if problem is None else f"has a key that {problem}"


class EnvCalls:
    """Reads the calls of `env` values and `env_from` items, reporting what is wrong."""

    def __init__(self, diagnostics: DiagnosticBag, fields: FieldReader) -> None:
        self.diagnostics = diagnostics
        self.fields = fields

    def _known(self, call: ast.Call, allowed: tuple[str, ...]) -> bool:
        if call.func.name in allowed:
            return True
        shown_forms = {"secret": 'secret("NAME", "KEY")', "config_map": 'config_map("NAME", '
                       '"KEY")', "field": 'field("metadata.name")'}
        self.diagnostics.error("E0103", f"unknown function `{call.func.name}`",
                               call.func.span, "no such function",
                               help=suggest(call.func.name, allowed) or [
                                   "functions: " + ", ".join(shown_forms[f] for f in allowed)])
        return False

    def _strings(self, call: ast.Call, count: int, usage: str) -> list[str] | None:
        if len(call.args) != count:
            self.diagnostics.error("E0201", f"`{call.func.name}` takes {usage}", call.span,
                                   f"{len(call.args)} argument(s)")
            return None
        values = [self.fields.string(a) for a in call.args]
        if any(v is None for v in values):
            return None
        return cast(list[str], values)

    def _valid(self, what: str, value: str, span: Span, problem: str | None) -> bool:
        if problem is not None:
            self.diagnostics.error("E0208", f"invalid {what} \"{shown(value)}\"", span,
                                   "not valid in Kubernetes", help=[f"`{shown(value)}` {problem}"])
        return problem is None

    def env_value(self, name: str, call: ast.Call) -> ir.EnvVar | None:
        """An env variable read from a Secret's key, a ConfigMap's key or a pod field."""
        if not self._known(call, ENV_FUNCTIONS):
            return None
        func = call.func.name
        if func == "field":
            values = self._strings(call, 1, 'one string: the pod field\'s path, e.g. '
                                   'field("metadata.name")')
            if values is None or not self._valid("field path", values[0], call.args[0].span,
                                                 field_path_problem(values[0])):
                return None
            return ir.EnvVar(name=name, field=values[0])
        what = "Secret" if func == "secret" else "ConfigMap"
        values = self._strings(call, 2, f"two strings: the {what}'s name and the key, e.g. "
                               f'{func}("app", "level")')
        if values is None:
            return None
        object_name, key = values
        if func == "secret":
            valid = [credentials.valid_secret_part(part, value, arg.span, self.diagnostics)
                     for part, value, arg in (("name", object_name, call.args[0]),
                                              ("key", key, call.args[1]))]
            return ir.EnvVar(name=name, secret=ir.SecretRef(name=object_name, key=key)) \
                if all(valid) else None
        valid = [self._valid("ConfigMap name", object_name, call.args[0].span,
                             k8s_names.dns1123_subdomain(object_name)),
                 self._valid("ConfigMap key", key, call.args[1].span,
                             k8s_names.config_map_key(key))]
        return ir.EnvVar(name=name, config_map=ir.ConfigMapRef(name=object_name, key=key)) \
            if all(valid) else None

    def env_from(self, expr: ast.Expr) -> list[ir.EnvFrom]:
        """``env_from = [config_map("NAME"), secret("NAME")]``: each object once (E0110)."""
        if not isinstance(expr, ast.ListLit):
            self.diagnostics.error("E0201", "`env_from` is a list of `config_map(\"NAME\")` and "
                                   "`secret(\"NAME\")`", expr.span, "expected a list",
                                   help=['e.g. env_from = [config_map("settings")]'])
            return []
        found: list[ir.EnvFrom] = []
        seen: dict[tuple[str, str], Span] = {}
        for item in expr.items:
            if not isinstance(item, ast.Call):
                self.diagnostics.error("E0201", "an `env_from` item is `config_map(\"NAME\")` "
                                       "or `secret(\"NAME\")`", item.span, "not a call")
                continue
            if not self._known(item, ("config_map", "secret")):
                continue
            what = "Secret" if item.func.name == "secret" else "ConfigMap"
            values = self._strings(item, 1, f"one string in `env_from`: the {what}'s name")
            if values is None or not self._valid(f"{what} name", values[0], item.args[0].span,
                                                 k8s_names.dns1123_subdomain(values[0])):
                continue
            key = (item.func.name, values[0])
            if key in seen:
                self.diagnostics.error(
                    "E0110", f"{what} `{values[0]}` is in `env_from` twice", item.span,
                    "named again", secondary=[Label(seen[key], "first named here")])
                continue
            seen[key] = item.span
            found.append(ir.EnvFrom(kind=cast(ir.EnvSourceKind, item.func.name),
                                    name=values[0]))
        return found


def merge_env(pipeline: tuple[ast.Assignment, ...], own: ast.Block | None) -> ast.Block | None:
    """The step's `env` over the pipeline's, key by key: the pipeline's entries the step does
    not set, in their order, then the step's own."""
    if not pipeline:
        return own
    if own is None:
        return ast.Block(ast.Ident("env", pipeline[0].span), pipeline, pipeline[0].span)
    mine = {item.key.name for item in own.items if isinstance(item, ast.Assignment)}
    kept = tuple(item for item in pipeline if item.key.name not in mine)
    return ast.Block(own.name, (*kept, *own.items), own.span)


class PipelineConfiguration:
    """The pipeline's own `env`, `env_from` and `volume`s, read once."""

    def __init__(self, checker: Checker) -> None:
        # The checker's parts, not the checker: the checker holds this object, and a cycle
        # would keep both, and the syntax tree they hold, alive until the process ends
        # (`cnai compile` runs without the cycle collector, cli.py).
        self.scope = checker.scope
        self.fields = checker.fields
        self.diagnostics = checker.diagnostics
        self.calls = EnvCalls(checker.diagnostics, checker.fields)
        self.env_items: tuple[ast.Assignment, ...] = ()  # valid entries, merged into steps
        self.volumes: dict[str, ir.Volume] = {}

    def env(self, block: ast.Assignment | ast.Block) -> list[ir.EnvVar]:
        """The pipeline's `env`: literals, params and the env functions (no step outputs:
        no step has run when the pipeline's defaults are set)."""
        assert isinstance(block, ast.Block)
        env: list[ir.EnvVar] = []
        kept: list[ast.Assignment] = []
        seen: dict[str, ast.Ident] = {}
        for item in block.items:
            if not env_entry_ok(item, seen, self.diagnostics):
                continue
            assert isinstance(item, ast.Assignment)
            var = self._value(item)
            if var is not None:
                env.append(var)
                kept.append(item)
        self.env_items = tuple(kept)
        return env

    def _value(self, item: ast.Assignment) -> ir.EnvVar | None:
        value = item.value
        if isinstance(value, ast.Call):
            return self.calls.env_value(item.key.name, value)
        text = self._text(value)
        if text is not None:
            if (isinstance(value, ast.StringLit) and value.is_plain and value.text
                    and credentials.SECRET_NAME.search(item.key.name)):
                credentials.warn_literal_env(item.key.name, value.span, self.diagnostics)
            return ir.EnvVar(name=item.key.name, value=text)
        refs = [value] if isinstance(value, ast.Ref) else [
            p for p in value.parts if isinstance(p, ast.Ref)] if isinstance(
            value, ast.StringLit) else []
        unknown = [r.parts[0] for r in refs if self.scope.get(r.parts[0].name) is None]
        if unknown:
            self.scope.unknown(unknown[0], "name", "E0103", "param")
            return None
        self.diagnostics.error(
            "E0201", "a pipeline-wide `env` value is a literal, a param or "
            "secret(), config_map() or field()", value.span, "not known before the steps run",
            help=["set values that read a step's output in the steps that need them"])
        return None

    def _text(self, value: ast.Expr) -> ir.Text | None:
        """A literal's text, or a text of params (each an input of the same name in the steps
        that take it); None for anything else."""
        if isinstance(value, ast.BoolLit):
            return ir.Text.of("true" if value.value else "false")
        if isinstance(value, ast.IntLit):
            return ir.Text.of(str(value.value))
        if isinstance(value, ast.FloatLit):
            return ir.Text.of(repr(value.value))
        parts = [value] if isinstance(value, ast.Ref) else list(value.parts) if isinstance(
            value, ast.StringLit) else None
        if parts is None or not all(isinstance(p, str) or self._is_param(p) for p in parts):
            return None
        return ir.Text.of(*[p if isinstance(p, str) else ir.InputValue.named(p.parts[0].name)
                            for p in parts])

    def _is_param(self, ref: ast.Ref) -> bool:
        symbol = self.scope.get(ref.parts[0].name)
        return symbol is not None and symbol.kind == "param" and len(ref.parts) == 1

    def env_from(self, expr: ast.Expr) -> list[ir.EnvFrom]:
        return self.calls.env_from(expr)

    # ---- volumes ------------------------------------------------------------------------

    def volume(self, decl: ast.VolumeDecl) -> ir.Volume | None:
        fields = self.fields.collect(decl.items, "volume", decl.name, decl.span)
        for item in decl.items:
            if not isinstance(item, (ast.Assignment, ast.Block)):
                self.diagnostics.error("E0201", "a volume takes fields only", item.span,
                                       "not allowed in a volume")
        values = self.fields.read(fields, "volume")
        volume = ir.Volume(name=decl.name.name, k8s_name=k8s_name(decl.name.name),
                           span=decl.name.span)
        fill(volume, values)
        ok = self._name_ok(decl.name, volume.k8s_name)
        for name in ("claim", "config_map", "secret", "sub_path"):
            if name in fields:
                text = self.fields.string(assigned(fields[name]))
                ok = text is not None and self._object_name(name, text, assigned(fields[name])) \
                    and ok
                setattr(volume, name, text)
        if "empty_dir" in fields:
            volume.empty_dir = bool(self.fields.boolean(assigned(fields["empty_dir"])))
        if "path" in fields:
            ok = self._path(volume, assigned(fields["path"])) and ok
        ok = self._one_source(decl, volume, fields) and ok
        ok = self._fits_source(volume, fields) and ok
        if not ok or "path" not in fields:
            return None
        self.volumes[volume.name] = volume
        return volume

    def _name_ok(self, name: ast.Ident, mapped: str) -> bool:
        if mapped.startswith(RESERVED_VOLUME_PREFIX):
            self.diagnostics.error("E0208", f"volume `{name.name}` would be `{mapped}`, a name "
                                   "cnai keeps for its own volumes", name.span, "reserved",
                                   help=["rename the volume"])
            return False
        return True

    def _object_name(self, field: str, text: str, expr: ast.Expr) -> bool:
        if field == "sub_path":
            parts = text.split("/")
            if text.startswith("/") or ".." in parts or not text:
                self.diagnostics.error("E0208", f"`sub_path` \"{shown(text)}\" must be a "
                                       "relative path without `..`", expr.span,
                                       "not a relative path",
                                       help=["a directory inside the claim, e.g. \"runs/a\""])
                return False
            return True
        what = {"claim": "claim name", "config_map": "ConfigMap name",
                "secret": "Secret name"}[field]
        problem = k8s_names.dns1123_subdomain(text)
        if problem is not None:
            self.diagnostics.error("E0208", f"invalid {what} \"{shown(text)}\"", expr.span,
                                   "not valid in Kubernetes", help=[f"`{shown(text)}` {problem}"])
        return problem is None

    def _path(self, volume: ir.Volume, expr: ast.Expr) -> bool:
        path = self.fields.string(expr)
        if path is None:
            return False
        if not path.startswith("/"):
            self.diagnostics.error("E0208", "a volume's path must be absolute", expr.span,
                                   "not an absolute path")
            return False
        volume.path = path
        return True

    def _one_source(self, decl: ast.VolumeDecl, volume: ir.Volume,
                    fields: dict[str, ast.Assignment | ast.Block]) -> bool:
        # In the order written; `empty_dir = false` is no source.
        given = sorted((name for name in VOLUME_SOURCES if name in fields and not (
            name == "empty_dir" and isinstance(assigned(fields[name]), ast.BoolLit)
            and not volume.empty_dir)), key=lambda name: fields[name].span.start)
        if not given:
            self.diagnostics.error(
                "E0106", f"volume `{decl.name.name}` has no source", decl.name.span,
                "needs one of `claim`, `config_map`, `secret`, `empty_dir = true`",
                help=['e.g. `claim = "shared-data"` (an existing PersistentVolumeClaim) or '
                      "`empty_dir = true` (scratch space)"])
            return False
        if len(given) > 1:
            second = fields[given[1]]
            assert isinstance(second, ast.Assignment)
            self.diagnostics.error(
                "E0208", f"volume `{decl.name.name}` has two sources, `{given[0]}` and "
                f"`{given[1]}`", second.key.span, "second source",
                help=["a volume is one claim, ConfigMap, Secret or empty directory; declare "
                      "another volume for the other"])
            return False
        return True

    def _fits_source(self, volume: ir.Volume,
                     fields: dict[str, ast.Assignment | ast.Block]) -> bool:
        """`read_only` and `sub_path` are for claims, `size` and `memory` for empty dirs."""
        ok = True
        for name, allowed in (("read_only", "claim"), ("sub_path", "claim"),
                              ("size", "empty_dir"), ("memory", "empty_dir")):
            item = fields.get(name)
            if item is not None and volume.source != allowed:
                assert isinstance(item, ast.Assignment)
                kind = {"claim": "a claim", "empty_dir": "an empty directory"}[allowed]
                help_text = ("ConfigMaps and Secrets are always mounted read-only"
                             if name == "read_only" else f"only {kind} has `{name}`")
                self.diagnostics.error("E0208", f"`{name}` is for {kind}", item.key.span,
                                       f"not for a {volume.source.replace('_', ' ')} volume",
                                       help=[help_text])
                ok = False
        return ok

    def check_unmounted(self, steps: list[ir.Step]) -> None:
        """W0104 for a volume no step mounts (it is left out)."""
        mounted = {v.name for step in steps for v in step.volumes}
        for volume in self.volumes.values():
            if volume.name not in mounted:
                assert volume.span is not None
                self.diagnostics.warn("W0104", f"volume `{volume.name}` is never mounted",
                                      volume.span, "no step mounts it",
                                      help=[f"add `mount {volume.name}` to the steps that "
                                            "need it, or remove the volume"])


def env_entry_ok(item: ast.BodyItem, seen: dict[str, ast.Ident],
                 diagnostics: DiagnosticBag) -> bool:
    """An `env` entry is `NAME = value`, set once; a quoted name (`"spring.profiles.active"`)
    is any name the API server accepts (IsEnvVarName)."""
    if not isinstance(item, ast.Assignment):
        diagnostics.error("E0201", "`env` holds `NAME = value` entries", item.span,
                          "not an environment variable")
        return False
    problem = k8s_names.env_var_name(item.key.name) if item.key.quoted else None
    if problem is not None:
        diagnostics.error("E0208", f"invalid environment variable name \"{shown(item.key.name)}\"",
                          item.key.span, "not valid in Kubernetes",
                          help=[f"`{shown(item.key.name)}` {problem}"])
        return False
    if item.key.name in seen:
        diagnostics.error("E0110", f"environment variable `{item.key.name}` is set twice",
                          item.key.span, "set again",
                          secondary=[Label(seen[item.key.name].span, "first set here")])
        return False
    seen[item.key.name] = item.key
    return True


def check_service(step: ir.Step, decl: ast.StepDecl, diagnostics: DiagnosticBag) -> None:
    """What a service's pod may have: Knative allows ConfigMaps, Secrets and empty
    directories, but claims and pod fields in env only behind feature flags that are off by
    default (knative/serving pkg/apis/config/features.go: PodSpecPersistentVolumeClaim and
    PodSpecFieldRef Disabled, PodSpecVolumesEmptyDir Enabled). The pipeline's `shm` is for
    steps."""
    if step.kind != "service":
        return
    step.shm = None
    for volume in step.volumes:
        if volume.claim is not None:
            diagnostics.error(
                "E0401", f"service `{step.name}` mounts the claim of volume `{volume.name}`",
                decl.name.span, "a claim in a service",
                help=["Knative refuses PersistentVolumeClaims unless its "
                      "`kubernetes.podspec-persistent-volume-claim` feature is enabled; bake "
                      "the data into the image or read it from object storage"])
    for var in step.env:
        if var.field is not None:
            diagnostics.error(
                "E0401", f"service `{step.name}` reads `{var.name}` from the pod's field "
                f"`{var.field}`", decl.name.span, "a pod field in a service",
                help=["Knative refuses env values from pod fields unless its "
                      "`kubernetes.podspec-fieldref` feature is enabled; set the variable in "
                      "the service (its value replaces the pipeline's)"])
