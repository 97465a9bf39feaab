"""The runtime contract on Kubeflow (runtime_images/README.md, "Contract with the compiler"):
a POSIX ``sh`` prefix on the container command that exports what cnai_runtime reads, then runs
the step's own command.

KFP substitutes placeholders in the command and arguments only, never in ``env``: the driver
fills ``{{$.inputs.parameters[...]}}`` (backend/src/v2/driver/util.go, resolveContainerArgs,
which leaves any argument naming ``$.outputs`` to the launcher) and the launcher the rest
(backend/src/v2/component/launcher_v2.go, getPlaceholders). So the values arrive as positional
arguments of ``sh -c SCRIPT cnai-step ARGS... COMMAND...``:

    $1  CNAI_OUTPUTS: {"<output>": "<output_file or path placeholder>"} (compact JSON)
    $2  CNAI_INPUTS: {"<artifact input>": "<path placeholder>"}
    $3… one per parameter input, exported as CNAI_INPUT_<NAME>
    then one per environment variable whose value holds references, exported by its name

and the script is exactly the contract's ``export …; shift N; exec "$@"`` (cnai_runtime's
contract.kfp_command writes the same), extended only where a step needs it:

- ``pipeline.status``: the step's input is KFP's ``PipelineTaskFinalStatus``, which reaches a
  command as the JSON of the struct (``{"error":{},…,"state":"FAILED"}``; driver/resolve.go
  builds it with the producer's MLMD state, COMPLETE or FAILED, and the SDK documents Vertex's
  SUCCEEDED / FAILED / CANCELLED). The script reads ``state`` with parameter expansions (no
  ``sed``: any POSIX ``sh`` will do) and maps it to Argo's words: Succeeded (COMPLETE, CACHED,
  SUCCEEDED), Failed (FAILED, CANCELED, CANCELLED), Error (anything else). The command holds
  the marker ``%CNAI_PIPELINE_STATUS%`` where the status goes, replaced by the script in every
  argument (the struct's text is not reliable to search for: the launcher's rendering of it,
  used in arguments that also name an output, is protojson's, with unstable spacing).
- A stdout output (``output x: T at stdout``): the command's stdout is copied by ``tee`` into
  the output's file, its trailing newlines trimmed once it succeeded (_STDOUT).
- Fixed-path outputs (``output x: T at "/p"``): the script runs the command without ``exec``,
  then, if it succeeded, copies each fixed path to where KFP reads the output (``cp -R``: a
  file or a directory) and exits with the command's status (1 if a copy fails). ``sh`` stays
  the command's parent; KFP's launcher, the parent of both, forwards no signals either way.

Which steps get the prefix: those with a command and with inputs, outputs or environment
values that hold references, not counting the literal words dedupe_templates lifts into a
shared template's arguments (their values are filled into the command by the driver, and
are nothing the step's code reads). Others keep their command as written, so images without ``sh``
(distroless, scratch) run steps that pass nothing; a step that needs the prefix needs ``sh``.
A step with no ``command`` (the image's entrypoint runs) cannot be wrapped: it gets no
prefix, and its environment references, fixed-path outputs and ``pipeline.status`` are
refused (E0401).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from cnai.backends import k8s
from cnai.semantics import ir

STEP_NAME = "cnai-step"  # $0 of the script
STATUS_MARKER = "%CNAI_PIPELINE_STATUS%"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATUS = [  # $_cnai_j holds the struct's JSON; $_cnai_s gets Argo's word for its state
    """_cnai_s=${_cnai_j#*'"state":'}""",
    '_cnai_s=${_cnai_s#"${_cnai_s%%[! ]*}"}',
    '_cnai_s=${_cnai_s#\\"}',
    '_cnai_s=${_cnai_s%%\\"*}',
    'case "$_cnai_s" in COMPLETE|CACHED|SUCCEEDED) _cnai_s=Succeeded;; '
    'FAILED|CANCELED|CANCELLED) _cnai_s=Failed;; *) _cnai_s=Error;; esac']
_REPLACE = [  # every argument, with $_cnai_m replaced by $_cnai_s
    'for _cnai_a do',
    '  _cnai_r=',
    '  while :; do case "$_cnai_a" in',
    '    *"$_cnai_m"*) _cnai_r="$_cnai_r${_cnai_a%%"$_cnai_m"*}$_cnai_s"; '
    '_cnai_a=${_cnai_a#*"$_cnai_m"};;',
    '    *) break;;',
    '  esac; done',
    '  set -- "$@" "$_cnai_r$_cnai_a"; shift',
    'done']


class Unsupported(Exception):
    """Something in a step that KFP cannot express; the message is for the user."""


def output_placeholder(output: ir.Output) -> str:
    if output.type.is_artifact:
        return f"{{{{$.outputs.artifacts['{output.name}'].path}}}}"
    return f"{{{{$.outputs.parameters['{output.name}'].output_file}}}}"


def input_placeholder(item: ir.Input) -> str:
    if item.type.is_artifact:
        return f"{{{{$.inputs.artifacts['{item.name}'].path}}}}"
    return f"{{{{$.inputs.parameters['{item.name}']}}}}"


def needs_prefix(step: ir.Step) -> bool:
    """Whether the step's code needs the prefix: an artifact input, an output, a parameter of
    the contract or an environment value with references. The words dedupe_templates lifts
    into arguments do not: the driver puts their values in the command itself."""
    return bool(any(i.type.is_artifact for i in step.inputs) or k8s.contract_parameters(step)
                or step.outputs or any(_holds_references(v) for v in step.env))


def _holds_references(var: ir.EnvVar) -> bool:
    return var.value is not None and not var.value.is_literal


def wrap(step: ir.Step, command: list[str], render: Callable[[ir.Text], str]) -> list[str]:
    """The container command: ``command`` behind the contract's prefix, when the step needs
    one. ``render`` renders a text of the step with KFP's placeholders."""
    if not needs_prefix(step):
        return command
    if not command:
        _refuse_without_command(step)
        return command
    # Every value is an argument, which Kubernetes expands: literal paths are escaped
    # (k8s.literal_text), placeholders are not (the driver and launcher fill them).
    outputs = {o.name: k8s.literal_text(o.path) if o.path else output_placeholder(o)
               for o in step.outputs if not o.stdout}  # the script writes stdout's
    artifacts = {i.name: input_placeholder(i) for i in step.inputs
                 if i.type.is_artifact}
    values = [json.dumps(outputs, separators=(",", ":")),
              json.dumps(artifacts, separators=(",", ":"))]
    exports = ['CNAI_OUTPUTS="${1}"', 'CNAI_INPUTS="${2}"']
    before: list[str] = []
    for item in k8s.contract_parameters(step):
        values.append(input_placeholder(item))
        if isinstance(item.source, ir.PipelineStatus):
            before += [f'_cnai_j="${{{len(values)}}}"', f"_cnai_m={STATUS_MARKER}", *_STATUS]
            exports.append(f'{k8s.input_env_name(item.name)}="$_cnai_s"')
        else:
            exports.append(f'{k8s.input_env_name(item.name)}="${{{len(values)}}}"')
    for var in step.env:
        if _holds_references(var):
            if not _NAME.match(var.name):
                raise Unsupported(f"environment variable `{var.name}` of step `{step.name}` "
                                  "holds a reference, and that name cannot be exported by sh")
            assert var.value is not None
            values.append(render(var.value))
            exports.append(f'{var.name}="${{{len(values)}}}"')
    copies = 0
    for output in step.outputs:
        if output.path is not None:
            values += [k8s.literal_text(output.path), output_placeholder(output)]
            before.append(f'_cnai_f{copies}="${{{len(values) - 1}}}" '
                          f'_cnai_t{copies}="${{{len(values)}}}"')
            copies += 1
    stdout = next((o for o in step.outputs if o.stdout), None)
    if stdout is not None:
        values.append(output_placeholder(stdout))
        before.append(f'_cnai_o="${{{len(values)}}}"')
    statements = [*before, f'export {" ".join(exports)}', f"shift {len(values)}"]
    if any(isinstance(i.source, ir.PipelineStatus) for i in step.inputs):
        statements += _REPLACE
    statements += _run(copies, stdout is not None)
    # The contract's one line when that is all; a step that needs more reads better in lines.
    script = "; ".join(statements) if not before else "\n".join(statements)
    return ["sh", "-c", script, STEP_NAME, *values, *command]


def _run(copies: int, stdout: bool) -> list[str]:
    if not copies and not stdout:
        return ['exec "$@"']
    lines = _STDOUT if stdout else ['"$@"', "_cnai_rc=$?"]
    if copies:
        copied = " && ".join(f'cp -R -- "$_cnai_f{n}" "$_cnai_t{n}"' for n in range(copies))
        lines = [*lines, f'if [ "$_cnai_rc" -eq 0 ] && ! {{ {copied}; }}; then',
                 f'  echo "{STEP_NAME}: an output at a fixed path was not written" >&2; '
                 "exit 1", "fi"]
    return [*lines, 'exit "$_cnai_rc"']


# `output x: T at stdout`: the command's stdout goes to the log and, through `tee`, to the
# output's file ($_cnai_o); its status is kept in a file, as a pipeline's is its last
# command's (POSIX sh has no pipefail; one step runs in its pod, so the file's name is fixed).
# Once it succeeded, the trailing newlines are trimmed (a command substitution drops them;
# Argo's executor trims one: CaptureScriptResult). The script holds no `$$` and no `$(`, which
# Kubernetes would expand in a command (k8s.literal_text): backquotes substitute.
_STDOUT = [
    '_cnai_x="${TMPDIR:-/tmp}/cnai-stdout-status"',
    '{ "$@"; echo "$?" >"$_cnai_x"; } | tee -- "$_cnai_o"',
    'read -r _cnai_rc <"$_cnai_x" || _cnai_rc=1',
    'rm -f -- "$_cnai_x"',
    'if [ "$_cnai_rc" -eq 0 ]; then _cnai_v=`cat -- "$_cnai_o"` && '
    'printf \'%s\' "$_cnai_v" >"$_cnai_o" || _cnai_rc=1; fi']


def _refuse_without_command(step: ir.Step) -> None:
    needing = [f"the environment variable `{v.name}` holds a reference" for v in step.env
               if _holds_references(v)]
    needing += [f"output `{o.name}` is written to a fixed path" for o in step.outputs if o.path]
    needing += ["it reads `pipeline.status`" for i in step.inputs
                if isinstance(i.source, ir.PipelineStatus)]
    if needing:
        raise Unsupported(f"step `{step.name}` has no `command`, and {needing[0]}: on Kubeflow "
                          "that takes an `sh` prefix before the command")
