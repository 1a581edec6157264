"""`synthlab --help`: what a new user needs on one screen (tasks and groups read from conf/)."""

TEXT = """usage: synthlab [-m] [GROUP=OPTION | KEY=VALUE ...]     one run (or, with -m, a sweep)
       synthlab report DIR [--over KEY]                       compare the runs of a sweep
       synthlab bench texture|cppn|gan|sweep [...]            timings against references

tasks (task=...): {tasks}
groups: {groups}

useful overrides:
  task.exemplar=photo.jpg task.size=[384,512]     texture from your image, at any size
  network/activation=relu network/downsampling=maxpool
  critic=[patches,gram] critic.gram.weight=10      the texture's losses
  optim=adam optim.lr=0.02                         the optimiser and its settings
  logger=none | csv | tensorboard                  W&B (offline) is the default
  -m sweep=texture_act_down                        a grid from sweeps/ (synthlab report DIR after)
  sweep_ok_if=any                                  a sweep with failed jobs still exits 0
  --cfg job                                        print what a run is built from; run nothing

docs: README.md, docs/architecture.md, docs/reliability.md. Hydra's own options: synthlab --hydra-help
"""


def text() -> str:
    from synthlab.config import groups, options

    return TEXT.format(tasks=", ".join(options("task")), groups=", ".join(groups()))
