"""``piclassify service``: the frame loop with the config's outputs, under systemd, for months.

The loop itself (pacing, trigger mode, camera faults, events) is ``piclassify.device.core.loop`` and
the outputs are opened by ``piclassify.device.sinks.outputs``, both shared with ``piclassify run``.
This module keeps only the service's lifecycle: the config file, systemd's notify socket, signals,
the teach panel that outlives reloads, and SIGHUP reloads that keep the running setup when the new
one is broken.
"""

from __future__ import annotations

import logging
import queue
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

from piclassify.device.config import ServiceConfig, check_against_model, load_config
from piclassify.device.core.backoff import Backoff
from piclassify.device.core.loop import RELOAD, FrameLoop, signals_to_events
from piclassify.device.core.memory import return_large_blocks
from piclassify.device.service.logs import configure_logging
from piclassify.device.service.notify import Notifier
from piclassify.device.sinks.outputs import Outputs
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.inference.runtime import NoRuntimeError

if TYPE_CHECKING:
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.regions import Regions
    from piclassify.device.core.sources import FrameSource
    from piclassify.device.teach.teacher import Teacher

log = logging.getLogger(__name__)

SourceFactory = Callable[[str, "tuple[int, int]"], "FrameSource"]
PipelineFactory = Callable[[str, Optional[int]], "Pipeline"]


class Service:
    """One run of ``piclassify service``; ``run`` returns the exit code."""

    def __init__(self, config_path: Union[str, Path], config: ServiceConfig, *,
                 source_factory: SourceFactory, pipeline_factory: PipelineFactory,
                 notifier: Optional[Notifier] = None, backoff: Optional[Backoff] = None) -> None:
        self.config_path = str(config_path)
        self.config = config
        self.source_factory = source_factory
        self.pipeline_factory = pipeline_factory
        self.notifier = notifier or Notifier(None)
        self.backoff = backoff or Backoff()
        self.events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.loop: Optional[FrameLoop] = None
        self.outputs: Optional[Outputs] = None
        # A model the teach panel made runs in place of the config's ``model`` until a restart, or until a reload
        # finds the config's ``model`` changed from the one it replaced (``taught_over``): then the config's wins.
        self.taught_model: Optional[str] = None
        self.taught_over: Optional[str] = None
        self._switch_to: Optional[str] = None  # a model the panel asked for, taken by the next reload
        self.teacher = self._teacher(config)

    def run(self) -> int:
        return_large_blocks()  # months of bursts (uploads on many threads) must not keep what they borrowed
        with signals_to_events(self.events):
            try:
                pipeline = self._load_pipeline(self.config, self.config.model)
                regions = self._open_regions(self.config, pipeline, self.config.model)
                self._running(pipeline)
                self.outputs = Outputs.open(self.config, pipeline, self.events, self._loop, self.teacher,
                                            regions=regions)
                self.loop = FrameLoop(self._opener(self.config), pipeline, self.outputs.sinks,
                                      self.config.loop_settings(), listener=self.notifier, backoff=self.backoff,
                                      on_reload=self._reload, events=self.events, regions=regions)
                log.info("started: model=%s source=%s mode=%s results=%s", pipeline.manifest.name,
                         self.config.source, self.config.mode, self.config.results.path)
                self.loop.run()
            except BaseException:
                if self.loop is None:
                    self.notifier.stopping()
                raise
            finally:
                if self.outputs is not None:
                    self.outputs.close()
                self.notifier.close()
        log.info("stopped")
        return 0

    def _loop(self) -> Optional[FrameLoop]:
        return self.loop

    def _opener(self, config: ServiceConfig) -> Callable[[], FrameSource]:
        return lambda: self.source_factory(config.source, config.size)

    def _teacher(self, config: ServiceConfig) -> Optional[Teacher]:
        """The teach panel, with the web view or class buttons: it outlives reloads (a fit may be running)."""
        if not (config.web.enabled or config.teach.buttons):
            return None
        from piclassify.device.teach.examples import ExampleStore
        from piclassify.device.teach.teacher import Teacher

        return Teacher(ExampleStore(config.teach.examples), config.teach.models, self.use_model, self._running_model,
                       config.threads or None)

    def use_model(self, path: Path) -> None:
        """Switch to a model the teach panel made (a reload with it in place of the config's model); the panel hears
        whether the service runs it (``Teacher.model_running``) or why not (``Teacher.switch_failed``)."""
        self._switch_to = str(path)
        self.events.put(RELOAD)

    def _running_model(self) -> str:
        """The model the loop runs now, as a path (the one uploads are classified with)."""
        loop = self.loop
        return str(loop.pipeline.model_path) if loop is not None else self.taught_model or self.config.model

    def _model_for(self, config: ServiceConfig) -> str:
        """What a reload runs: a taught model while the config's ``model`` is still the one it replaced, else that."""
        return self.taught_model if self.taught_model and config.model == self.taught_over else config.model

    def _load_pipeline(self, config: ServiceConfig, model: str, check: bool = True) -> Pipeline:
        """The model (``check``: the config's label settings checked against it; a region's model is not)."""
        pipeline = self.pipeline_factory(model, config.threads or None)
        manifest = pipeline.manifest
        if check:
            check_against_model(config, manifest.task, tuple(manifest.labels), manifest.name, self.config_path)
        return pipeline

    def _open_regions(self, config: ServiceConfig, pipeline: Pipeline, model: str) -> Optional[Regions]:
        """The ``[[region]]`` tables with their models (each loaded once); None: the whole frame is classified."""
        if not config.regions:
            return None
        from piclassify.device.core.regions import Regions

        return Regions.open(config.watched_regions(), pipeline, model,
                            lambda name: self._load_pipeline(config, name, check=False))

    def _running(self, pipeline: Pipeline) -> None:
        if self.teacher is not None:
            self.teacher.model_running(str(pipeline.model_path))

    def _reload(self) -> None:
        """Re-read the config and the model; keep the camera open unless its settings changed, and the web view
        (its server and page clients) unless its own settings did.

        Anything wrong with the new setup (config, model, a pin) is one log line, and the running setup carries
        on; when the teach panel asked for the switch, it shows that line too.
        """
        assert self.loop is not None and self.outputs is not None
        log.info("reloading %s", self.config_path)
        wanted, self._switch_to = self._switch_to, None
        try:
            config = load_config(self.config_path)
            model = wanted or self._model_for(config)
            pipeline = self._load_pipeline(config, model)
            regions = self._open_regions(config, pipeline, model)
            self.outputs.close(keep_web=True)
        except PiclassifyError as error:
            self._reload_failed(error, wanted)
            return
        try:
            outputs = Outputs.open(config, pipeline, self.events, self._loop, self.teacher, web=self.outputs.web,
                                   regions=regions)
        except PiclassifyError as error:
            self._reload_failed(error, wanted)
            self.outputs = Outputs.open(self.config, self.loop.pipeline, self.events, self._loop, self.teacher,
                                        web=self.outputs.web, regions=self.loop.regions)
            self.loop.sinks = self.outputs.sinks
            return
        source_changed = (config.source, config.size) != (self.config.source, self.config.size)
        self.loop.switch(pipeline, outputs.sinks, config.loop_settings(),
                         self._opener(config) if source_changed else None, regions)
        if wanted is not None:
            self.taught_model, self.taught_over = wanted, config.model
        elif not self.taught_model or config.model != self.taught_over:
            self.taught_model = self.taught_over = None
        self.config, self.outputs = config, outputs
        self._running(pipeline)
        logging.getLogger().setLevel(config.log_level.upper())
        log.info("reloaded: model=%s source=%s mode=%s", pipeline.manifest.name, config.source, config.mode)

    def _reload_failed(self, error: PiclassifyError, wanted: Optional[str]) -> None:
        log.error("reload failed, keeping the running configuration: %s", error)
        if wanted is not None and self.teacher is not None:
            self.teacher.switch_failed(wanted, str(error))


def main(config_path: Union[str, Path], source_factory: Optional[SourceFactory] = None,
         pipeline_factory: Optional[PipelineFactory] = None) -> int:
    """``piclassify service``: 0 after a stop signal or when a file source runs out; 2 on a user error."""
    configure_logging()
    try:
        config = load_config(config_path)
        configure_logging(config.log_level)
        if source_factory is None:
            from piclassify.device.core.sources import open_source

            def source_factory(spec: str, size: tuple[int, int]) -> FrameSource:
                return open_source(spec, size, watch=True)  # a folder the service watches: new photos come later
        if pipeline_factory is None:
            from piclassify.device.core.pipeline import Pipeline

            pipeline_factory = Pipeline.load
        service = Service(config_path, config, source_factory=source_factory, pipeline_factory=pipeline_factory,
                          notifier=Notifier.from_environ())
    except (PiclassifyError, NoRuntimeError) as error:
        log.error("%s", error)
        return 2
    try:
        return service.run()
    except (PiclassifyError, NoRuntimeError) as error:
        log.error("%s", error)  # the reason first, then that the service stopped for it
        log.info("stopped")
        return 2
