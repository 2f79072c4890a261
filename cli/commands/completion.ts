import type { Command } from "commander";
import { CliError } from "../errors.ts";

/** Each command path ("", "jobs", "jobs list") with the words that may follow it: subcommands and options. */
function tree(program: Command): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (cmd: Command, path: string) => {
    const words = [
      ...cmd.commands.map((c) => c.name()),
      ...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f))),
      "--help",
    ];
    out.set(path, [...new Set(words)]);
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, "");
  return out;
}

/** A bash completion: the words after the deepest command typed so far (zsh loads it through bashcompinit). */
function bashScript(program: Command): string {
  const cases = [...tree(program)]
    .map(([path, words]) => `    "${path}") words="${words.join(" ")}" ;;`)
    .join("\n");
  return `# berth completion (bash; zsh: autoload -U +X bashcompinit && bashcompinit first)
_berth() {
  local cur path="" word words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) continue ;; esac
    case " $(_berth_words "\${path:+$path }$word") " in
      *" __none__ "*) ;;
      *) path="\${path:+$path }$word" ;;
    esac
  done
  words="$(_berth_words "$path")"
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
_berth_words() {
  local words=__none__
  case "$1" in
${cases}
  esac
  printf '%s' "$words"
}
complete -o default -F _berth berth
`;
}

/** `berth completion bash|zsh`: prints a completion script to source (e.g. from ~/.bashrc). */
export function completionCommand(program: Command) {
  program
    .command("completion <shell>")
    .description(
      'print a shell completion script: bash or zsh (eval "$(berth completion bash)" in ~/.bashrc)',
    )
    .action((shell: string) => {
      if (shell === "bash") process.stdout.write(bashScript(program));
      else if (shell === "zsh")
        process.stdout.write(`autoload -U +X bashcompinit && bashcompinit\n${bashScript(program)}`);
      else throw new CliError(`completion for ${shell}: use bash or zsh`, 2);
    });
}
