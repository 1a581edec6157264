#!/usr/bin/env bash
# Regenerates the README's texture quality table: every recipe over the 18 exemplars, two jobs
# at a time (one CPU thread each), then one report folded over the exemplars.
# Takes about 2 hours on a 2-core CPU (the random-multiscale baseline is most of it).
# Usage (repo root, with ../shared/data/textures beside it): scripts/texture-quality.sh [recipe...]
set -euo pipefail
declare -A RECIPES=(
  [default]=""
  [default_110]="task.iterations=[15,110]"
  [default_no_pixels]="critic=patches_sliced task.iterations=[15,110]"
  [default_one_phase]="task.phases=1 task.iterations=110"
  [default_round3]="task.phases=1 task.iterations=110 task.chroma_weight=0"
  [default_seed1]="seed=1"
  [guided]="critic=[guided,sliced] critic.sliced.taps=[conv1_1@4,conv2_1@4,conv3_1,conv4_1] critic.sliced.weight=300"
  [default_round2]="task.phases=1 task.iterations=110 critic.sliced.taps=[conv3_1,conv4_1] critic.sliced.weight=100"
  [default_round2_seed1]="task.phases=1 task.iterations=110 critic.sliced.taps=[conv3_1,conv4_1] critic.sliced.weight=100 seed=1"
  [patches]="critic=patches task.phases=1 task.iterations=110"
  [patches_bf16]="critic=patches task.phases=1 task.iterations=110 critic.patches.match_dtype=bfloat16"
  [previous_default]="experiment=texture_previous"
  [extreme_style_machines]="experiment=extreme_style_machines"
  [gram]="critic=gram task.phases=1 task.iterations=110"
  [sliced]="critic=sliced task.phases=1 task.iterations=110"
  [random_multiscale]="experiment=random_multiscale"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(default default_seed1 default_one_phase default_round2 default_round2_seed1 patches patches_bf16 previous_default extreme_style_machines gram sliced random_multiscale)
for name in "${names[@]}"; do
  [ -n "${RECIPES[$name]+x}" ] || { echo "unknown recipe $name; valid: ${!RECIPES[*]}" >&2; exit 2; }
  # shellcheck disable=SC2086
  synthlab -m sweep=texture_quality ${RECIPES[$name]} sweep_name=texture_quality/$name \
    launcher=joblib logger=none
done
synthlab report outputs/multirun/texture_quality --over task.exemplar
