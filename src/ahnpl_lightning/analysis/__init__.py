"""Read TensorBoard runs into a tidy table and plot AHNPL's margin dynamics (`notebooks/margin_dynamics.ipynb`).

`runs` reads event files into a frame (run, tag, step, value) and holds the table operations, `plots` draws the
figures from it, `notebook` finds the repository, the runs and the figure folder. Every public name is importable
from `ahnpl_lightning.analysis` as before the split.
"""

from ahnpl_lightning.analysis.notebook import (
    default_runs,
    demo_fit_args,
    figures_dir,
    find_repo_root,
    has_events,
    resolve_runs,
    runs_from_env,
    smoothing_from_env,
    train_demo_run,
)
from ahnpl_lightning.analysis.plots import (
    FIGURES,
    SMOOTHED,
    plot_all,
    plot_comparison,
    plot_evaluation,
    plot_final_accuracies,
    plot_losses,
    plot_margin_dynamics,
    plot_run,
    plot_scales,
    plot_tags,
    run_colors,
    save_figure,
)
from ahnpl_lightning.analysis.runs import (
    COLUMNS,
    EVENT_PREFIX,
    LOSS_TAGS,
    MASKED_KEYS,
    NO_EVALUATION,
    PER_TYPE_KEYS,
    SCALE_TAGS,
    SPLIT_SUFFIX,
    VALIDATION_ACCURACY_TAGS,
    evaluation_groups,
    evaluation_tags,
    final_values,
    find_run_dirs,
    load_runs,
    mask_invalid_types,
    negative_types,
    read_scalars,
    run_labels,
    series,
    slug,
    smooth,
    tag_summary,
)

__all__ = [
    "COLUMNS", "EVENT_PREFIX", "FIGURES", "LOSS_TAGS", "MASKED_KEYS", "NO_EVALUATION", "PER_TYPE_KEYS", "SCALE_TAGS",
    "SMOOTHED", "SPLIT_SUFFIX", "VALIDATION_ACCURACY_TAGS", "default_runs", "demo_fit_args", "evaluation_groups",
    "evaluation_tags", "figures_dir", "final_values", "find_repo_root", "find_run_dirs", "has_events", "load_runs",
    "mask_invalid_types", "negative_types", "plot_all", "plot_comparison", "plot_evaluation", "plot_final_accuracies",
    "plot_losses", "plot_margin_dynamics", "plot_run", "plot_scales", "plot_tags", "read_scalars", "resolve_runs",
    "run_colors", "run_labels", "runs_from_env", "save_figure", "series", "slug", "smooth", "smoothing_from_env",
    "tag_summary", "train_demo_run",
]
