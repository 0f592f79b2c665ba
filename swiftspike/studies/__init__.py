"""Studies: experiments built from the library below them, each driven by one config dataclass and
returning one result object that renders to a table, JSON and plots
(``.table()``, ``.to_dict()`` / ``.to_json()``, ``.plots(dir)``; see :mod:`.base`).

* :mod:`.asynch` -- ``run_study(StudyConfig) -> AsyncStudyResult`` (``swiftspike async-study``);
* :mod:`.conversion` -- ``run_study(ConversionConfig) -> ConversionStudyResult`` (``swiftspike convert-study``);
* :mod:`.topspark` -- ``run_study(TopSparkConfig) -> TopSparkResult`` (``swiftspike topspark``).

Studies never parse arguments (the CLI does) and nothing below them imports them."""
