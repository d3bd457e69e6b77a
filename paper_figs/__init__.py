"""Paper figures: one script per figure, each reading only results/ (``python -m paper_figs``)."""

#: Figure modules in paper order; each has NAME, EXPERIMENTS and build(results) -> Figure.
FIGURES: tuple[str, ...] = (
    "fig01_motivation",
    "fig02_latency_vs_rate",
    "fig03_e2e_cdf",
    "fig04_max_rate_slo",
    "fig05_ablations",
    "fig06_scalability",
    "fig07_dp_solve_time",
    "fig08_migration",
    "fig09_per_bucket",
    "fig10_timeline",
    "fig11_sim_vs_live",
    "fig12_live_repeats",
)
