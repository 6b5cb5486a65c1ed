"""Shell completion for bash and zsh, generated from the argument parser so it never drifts from it."""

from __future__ import annotations

import argparse

BASH_TEMPLATE = """\
# bash completion for pi-mqtt-gateway
# Install: pi-mqtt-gateway completion bash > /etc/bash_completion.d/pi-mqtt-gateway
_pi_mqtt_gateway() {
    local cur prev cmd="" sub="" word opts
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        -c|--config) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    esac
    for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        case "$word" in
            -*) ;;
            *) if [ -z "$cmd" ]; then cmd="$word"; elif [ -z "$sub" ]; then sub="$word"; fi ;;
        esac
    done
    case "$cmd" in
%(cases)s
    esac
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}
complete -F _pi_mqtt_gateway pi-mqtt-gateway
"""

ZSH_PREAMBLE = """\
#compdef pi-mqtt-gateway
# zsh completion for pi-mqtt-gateway
# Install: pi-mqtt-gateway completion zsh > "${fpath[1]}/_pi-mqtt-gateway"
autoload -U +X bashcompinit && bashcompinit
"""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps sub-parsers here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """Long options, and the choices of positional arguments (`completion bash|zsh`)."""
    words = []
    for action in parser._actions:
        words += [flag for flag in action.option_strings if flag.startswith("--")]
        if not action.option_strings and action.choices:
            words += [str(choice) for choice in action.choices]
    return words


def bash_script(parser: argparse.ArgumentParser) -> str:
    """A bash completion script for every command, sub-command and long option of `parser`."""
    commands = _subcommands(parser)
    cases = [f'        "") opts="{" ".join([*commands, *_options(parser)])}" ;;']
    for name, command in commands.items():
        subs = _subcommands(command)
        if subs:
            inner = " ".join(subs)
            cases.append(f'        {name}) if [ -z "$sub" ]; then opts="{inner}"; else opts=""; fi ;;')
        else:
            cases.append(f'        {name}) opts="{" ".join(_options(command))}" ;;')
    return BASH_TEMPLATE % {"cases": "\n".join(cases)}


def zsh_script(parser: argparse.ArgumentParser) -> str:
    """The bash script, loaded through zsh's bashcompinit."""
    return ZSH_PREAMBLE + bash_script(parser)
