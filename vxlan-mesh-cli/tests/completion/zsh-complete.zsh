# Prints the candidates zsh's completion system offers for a command line, one a line.
# Usage: zsh -f zsh-complete.zsh FPATH_DIR 'command line to complete'
#
# A real interactive zsh (in a pseudo-terminal, zsh/zpty) with compinit and FPATH_DIR first
# in $fpath presses Tab after the line; `compadd` is wrapped to print what completion adds,
# between two NUL lines that mark the start and the end of the completion.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=''; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'bindkey "^I" complete-word; zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w z 'null-line () { echo -E - $'"'"'\0'"'"' }; compprefuncs=( null-line ); comppostfuncs=( null-line exit )'
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; (( $#__hits == 0 )) && return 1; print -rl -- "<hit>"${^__hits} }'
zpty -w -n z "$2"$'\t'
integer seen=0
while zpty -r z; do :; done | while IFS= read -r line; do
  if [[ $line == *$'\0\r' ]]; then (( seen++ )) && exit 0 || continue; fi
  (( seen )) && [[ $line == '<hit>'* ]] && echo -E - "${${line#<hit>}%$'\r'}"
done
