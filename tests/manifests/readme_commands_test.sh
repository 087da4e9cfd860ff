#!/usr/bin/env bash
# Checks that the shell commands in README.md are real, as far as this machine can tell:
#   - every ```sh block line that runs `ringleader`, `ringleader-worker` or
#     `ringleader-operator` names a subcommand and flags that the built binary's usage text
#     lists (`BIN --help`, `BIN SUB --help`, from BUILD_DIR/src/cmd/BIN/BIN);
#   - `ringleader validate ...` and `ringleader render ...` lines are run as written (they only
#     read files) and must exit 0;
#   - every `kubectl` verb is a kubectl command and its flags appear in `kubectl VERB --help`
#     or `kubectl options`; TrainingJob resource names match the CRD's names;
#   - every repository path in a command (scripts/, examples/, deploy/, crds/, docs/, ...) and
#     every relative Markdown link exists (build/... is looked up in BUILD_DIR);
#   - `kubectl kustomize deploy/` renders.
# Before that it checks itself: README texts with a wrong flag, subcommand, verb or path must
# be rejected.
#
# usage: readme_commands_test.sh [BUILD_DIR [REPO_ROOT]]   (or env BUILD_DIR / REPO_ROOT)
# exit:  0 all good; 1 a problem (each printed as README.md:LINE: ...); 77 kubectl is not
#        installed (ctest SKIP_RETURN_CODE).
set -uo pipefail

repo=${2:-${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}}
build=${1:-${BUILD_DIR:-$repo/build}}
kubectl_bin=${KUBECTL:-$(command -v kubectl || true)}
if [[ -z $kubectl_bin || ! -x $kubectl_bin ]]; then
  echo "SKIP: kubectl not found"
  exit 77
fi
[[ $build == /* ]] || build=$repo/$build
cd "$repo" || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home  # kubectl's cache and config stay out of the user's home
mkdir -p "$HOME"

project_bins=(ringleader ringleader-worker ringleader-operator)
problems=0
readme_name=README.md

problem() {  # problem LINE MESSAGE
  echo "$readme_name:$1: $2"
  problems=$((problems + 1))
}

is_project_bin() {
  local b
  for b in "${project_bins[@]}"; do [[ $1 == "$b" ]] && return 0; done
  return 1
}

# Usage text of a binary (top level) or of one of its subcommands. Some binaries print usage
# only on a usage error, so stdout and stderr are kept whatever the exit code.
declare -A help_cache=()
help_text() {  # help_text KEY CMD...
  local key=$1; shift
  if [[ -z ${help_cache[$key]+set} ]]; then
    help_cache[$key]=$(timeout 20 "$@" </dev/null 2>&1)
  fi
  printf '%s\n' "${help_cache[$key]}"
}

has_word() {  # has_word WORD TEXT: WORD appears delimited (not inside a longer flag or name)
  local word=$1 text=$2
  grep -Fq -- "$word" <<<"$text" || return 1
  local escaped
  escaped=$(sed 's/[][\.*^$/]/\\&/g' <<<"$word")
  grep -Eq -- "(^|[^[:alnum:]_-])${escaped}([^[:alnum:]_-]|$)" <<<"$text"
}

# A path in a command, relative to the repository; build/... is looked up in BUILD_DIR.
check_path() {  # check_path LINE PATH
  local line=$1 p=${2#./}
  p=${p%%[,;:)]}
  case $p in
    build/*) [[ -e $build/${p#build/} ]] || problem "$line" "no such file in the build dir: $2 ($build/${p#build/})" ;;
    *) [[ -e $p ]] || problem "$line" "no such file or directory: $2" ;;
  esac
}

looks_like_repo_path() {
  [[ $1 != *'$'* && $1 != *'<'* && $1 != *'*'* && $1 != *'://'* ]] || return 1
  [[ ${1#./} =~ ^(scripts|examples|deploy|crds|docs|src|include|tests|bench|build|\.ci)(/|$) ]]
}

check_project_command() {  # check_project_command LINE WORDS... (WORDS[0] is the binary as written)
  local line=$1; shift
  local written=$1 name
  name=$(basename "$written"); shift
  local bin=$build/src/cmd/$name/$name
  if [[ ! -x $bin ]]; then
    problem "$line" "$name is not built: $bin"
    return
  fi
  local top sub="" sub_help="" w flag args=()
  top=$(help_text "$name" "$bin" --help)
  # A subcommand comes right after the binary (`ringleader run FILE`); a word after a flag
  # is that flag's value.
  if (($# > 0)) && [[ $1 != -* ]]; then sub=$1; fi
  if [[ -n $sub ]]; then
    if ! grep -Eq -- "(^|[[:space:]])${name}[[:space:]]+${sub}([[:space:]]|$)|^[[:space:]]+${sub}[[:space:]]" <<<"$top"; then
      problem "$line" "$name has no subcommand '$sub' (not in '$name --help')"
      return
    fi
    sub_help=$(help_text "$name $sub" "$bin" "$sub" --help)
  fi
  local i=0 words=("$@")
  while ((i < ${#words[@]})); do
    w=${words[i]}
    if [[ $w == "--" ]]; then
      # `launch -- CMD ...`: what follows is a command of its own.
      args=("${words[@]:i+1}")
      if ((${#args[@]} > 0)) && is_project_bin "$(basename "${args[0]}")"; then
        check_project_command "$line" "${args[@]}"
      fi
      return
    fi
    if [[ $w == -* ]]; then
      flag=${w%%=*}
      if [[ $flag == --help || $flag == -h ]]; then
        timeout 20 "$bin" --help >/dev/null 2>&1 </dev/null ||
          problem "$line" "'$name --help' does not exit 0"
      elif ! has_word "$flag" "$top" && ! has_word "$flag" "$sub_help"; then
        problem "$line" "$name${sub:+ $sub} has no flag $flag"
      fi
    fi
    i=$((i + 1))
  done
  # Read-only subcommands are run as written: they must succeed on the files the README names.
  if [[ $name == ringleader && ( $sub == validate || $sub == render ) ]]; then
    local expanded=() matches=()
    for w in "$@"; do  # the shell would expand globs such as examples/*.yaml
      if [[ $w == *[*?]* ]] && mapfile -t matches < <(compgen -G "$w") && ((${#matches[@]} > 0)); then
        expanded+=("${matches[@]}")
      else
        expanded+=("$w")
      fi
    done
    if ! "$bin" "${expanded[@]}" >"$tmp/out" 2>&1 </dev/null; then
      problem "$line" "'$name $*' failed: $(head -c 600 "$tmp/out" | tr "\n" " ")"
    fi
  fi
}

crd_names=$(grep -E '^    (plural|singular|kind|shortNames):' crds/ringleader.dev_trainingjobs.yaml |
  sed -E 's/^[^:]*:[[:space:]]*//; s/[][,]/ /g')

check_kubectl_command() {  # check_kubectl_command LINE WORDS... (after "kubectl")
  local line=$1; shift
  local verb="" w flag i=0 words=("$@") verb_help options
  for w in "${words[@]}"; do
    if [[ $w != -* ]]; then verb=$w; break; fi
  done
  [[ -n $verb ]] || return
  local root
  root=$(help_text kubectl "$kubectl_bin" --help)
  if ! grep -Eq -- "^[[:space:]]+${verb}[[:space:]]" <<<"$root"; then
    problem "$line" "kubectl has no command '$verb'"
    return
  fi
  verb_help=$(help_text "kubectl $verb" "$kubectl_bin" "$verb" --help)
  options=$(help_text "kubectl options" "$kubectl_bin" options)
  local positional=()
  while ((i < ${#words[@]})); do
    w=${words[i]}
    if [[ $w == -* && $w != "-" ]]; then
      flag=${w%%=*}
      if ! has_word "$flag" "$verb_help" && ! has_word "$flag" "$options"; then
        problem "$line" "kubectl $verb has no flag $flag"
      fi
    elif [[ $w != "$verb" ]]; then
      positional+=("$w")
    fi
    i=$((i + 1))
  done
  # kubectl get/describe/delete/wait <resource>: our resource names must be the CRD's.
  case $verb in
    get | describe | delete | wait | edit | patch | explain)
      if ((${#positional[@]} > 0)); then
        local res=${positional[0]%%/*}
        res=${res%%.*}
        if [[ $res =~ ^(tj|tjs|trainingjob|trainingjobs|TrainingJob)$ ]] && ! has_word "$res" "$crd_names"; then
          problem "$line" "'$res' is not a name of the TrainingJob CRD ($crd_names)"
        fi
      fi
      ;;
  esac
}

# One logical command line (continuations joined, comments stripped).
check_command_line() {  # check_command_line LINE TEXT
  local line=$1 text=$2
  text=${text#\$ }
  # Split into segments at && || ; | (outside quotes is assumed: README commands are simple).
  local segments
  segments=$(sed -E 's/(&&|\|\||;|\|)/\n/g' <<<"$text")
  local seg
  while IFS= read -r seg; do
    local words=() w
    read -ra words <<<"$seg"
    ((${#words[@]} > 0)) || continue
    # Strip quotes from words; check repository paths anywhere in the segment.
    local clean=()
    for w in "${words[@]}"; do
      w=${w//\"/}
      w=${w//\'/}
      clean+=("$w")
      local value=$w
      [[ $w == -*=* ]] && value=${w#*=}
      looks_like_repo_path "$value" && check_path "$line" "$value"
    done
    # Command position: skip VAR=value assignments and wrappers.
    local k=0
    while ((k < ${#clean[@]})) && [[ ${clean[k]} =~ ^[A-Za-z_][A-Za-z0-9_]*= || ${clean[k]} =~ ^(sudo|exec|time|env)$ ]]; do
      k=$((k + 1))
    done
    ((k < ${#clean[@]})) || continue
    local cmd=${clean[k]}
    if is_project_bin "$(basename "$cmd")"; then
      check_project_command "$line" "${clean[@]:k}"
    elif [[ $cmd == kubectl ]]; then
      check_kubectl_command "$line" "${clean[@]:k+1}"
    elif [[ $cmd == ./* || $cmd == scripts/* ]]; then
      [[ -x ${cmd#./} ]] || problem "$line" "not an executable file: $cmd"
    fi
  done <<<"$segments"
}

check_readme() {  # check_readme FILE: sets $problems
  local file=$1 n=0 in_sh=0 fence_re='^[[:space:]]*```' sh_fence_re='^[[:space:]]*```(sh|bash|shell|console)[[:space:]]*$' joined="" joined_line=0 raw
  problems=0
  while IFS= read -r raw || [[ -n $raw ]]; do
    n=$((n + 1))
    if [[ $raw =~ $fence_re ]]; then
      if ((in_sh)); then
        in_sh=0
      elif [[ $raw =~ $sh_fence_re ]]; then
        in_sh=1
      else
        in_sh=2  # another language: neither commands nor links are checked inside
      fi
      continue
    fi
    ((in_sh == 2)) && continue
    if ((in_sh == 1)); then
      local text=$raw
      [[ $text =~ ^[[:space:]]*# ]] && continue
      text=$(sed -E 's/[[:space:]]+#.*$//' <<<"$text")
      ((joined_line)) || joined_line=$n
      if [[ $text == *\\ ]]; then
        joined+="${text%\\} "
        continue
      fi
      joined+=$text
      [[ -n ${joined// /} ]] && check_command_line "$joined_line" "$joined"
      joined=""; joined_line=0
      continue
    fi
    # Relative Markdown links outside code blocks.
    local link
    while read -r link; do
      [[ -z $link ]] && continue
      link=${link#*](}
      link=${link%)}
      link=${link%%#*}
      [[ -z $link || $link == *://* || $link == mailto:* ]] && continue
      [[ -e $link ]] || problem "$n" "broken link: $link"
    done < <(grep -oE '\]\([^) ]+\)' <<<"$raw")
  done <"$file"
}

# --- Self-test: each of these READMEs is wrong and must be rejected. ---
self_test_case() {  # self_test_case DESCRIPTION CONTENT
  printf '%s\n' "$2" >"$tmp/bad.md"
  readme_name="self-test ($1)"
  check_readme "$tmp/bad.md" >"$tmp/self.log"
  if ((problems == 0)); then
    echo "FAIL: self-test accepted a README with $1"
    exit 1
  fi
  echo "self-test: rejected $1: $(head -1 "$tmp/self.log")"
}
fence='```'
self_test_case "an unknown ringleader flag" "${fence}sh
ringleader run examples/local-mlp.yaml --no-such-flag 3
${fence}"
self_test_case "an unknown ringleader subcommand" "${fence}sh
ringleader frobnicate examples/local-mlp.yaml
${fence}"
self_test_case "an unknown ringleader-worker flag" "${fence}sh
ringleader-worker train --stepz 10
${fence}"
self_test_case "a missing example file" "${fence}sh
kubectl apply -f examples/no-such-job.yaml
${fence}"
self_test_case "a misspelled kubectl verb" "${fence}sh
kubectl aply -k deploy/
${fence}"
self_test_case "an unknown kubectl flag" "${fence}sh
kubectl get tj --no-such-flag
${fence}"
self_test_case "a missing script" "${fence}sh
./scripts/no-such-script.sh
${fence}"
self_test_case "a broken link" "See [the API](docs/no-such-page.md)."
self_test_case "a validate command that fails" "${fence}sh
ringleader validate crds/ringleader.dev_trainingjobs.yaml
${fence}"
# ...and a correct one must pass.
printf '%s\n' "${fence}sh" "ringleader validate examples/cpu-job.yaml  # ok" \
  "kubectl get tj -o wide" "${fence}" >"$tmp/good.md"
readme_name="self-test (a correct README)"
check_readme "$tmp/good.md"
if ((problems != 0)); then
  echo "FAIL: self-test rejected a correct README"
  exit 1
fi
echo "self-test: wrong commands, flags, paths and links are rejected"

# --- The real README. ---
readme_name=README.md
check_readme README.md
total=$problems

if ! "$kubectl_bin" kustomize deploy/ >"$tmp/kustomize.out" 2>&1; then
  echo "deploy/: 'kubectl kustomize deploy/' failed:"
  cat "$tmp/kustomize.out"
  total=$((total + 1))
elif ! grep -q '^kind: CustomResourceDefinition' "$tmp/kustomize.out"; then
  echo "deploy/: 'kubectl kustomize deploy/' does not include the TrainingJob CRD"
  total=$((total + 1))
fi

if ((total > 0)); then
  echo "FAIL: $total problem(s) in README.md commands"
  exit 1
fi
echo "PASS: README.md commands, flags, paths and links check out"
