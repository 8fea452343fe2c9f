"""The main window's actions, menus and toolbar, and the keyboard shortcuts (one table, also shown in Help).

``WindowActions(window)`` creates every ``QAction`` and connects it to a method of the window (the window owns the
behaviour; this module only builds the menus). Playback keys are window-wide shortcuts: a text field that has the
focus (the offset box) keeps its own arrow keys.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

from gymnast_pose.gui.session import COACH, STUDENT

# (key, what it does): the Help > Keyboard shortcuts table and the actions below use the same keys.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Space", "Play / pause"),
    ("Left", "One frame back"),
    ("Right", "One frame forward"),
    ("[", "Slower playback"),
    ("]", "Faster playback"),
    ("Ctrl+O", "Open the coach's video"),
    ("Ctrl+Shift+O", "Open the student's video"),
    ("Ctrl+L", "Open a saved session"),
    ("Ctrl+S", "Save the session"),
    ("Ctrl+E", "Export the report (CSV, one row per aligned frame pair)"),
    ("Ctrl+Q", "Quit"),
)
KEYS = dict((what, key) for key, what in SHORTCUTS)


def shortcuts_html() -> str:
    """The shortcut table as HTML for a message box."""
    rows = "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;&nbsp;</td><td>{what}</td></tr>" for key, what in SHORTCUTS)
    extra = ("<p>Click or drag on the timelines to jump to a moment; drag a video file onto the coach's or the "
             "student's side to open it there.</p>")
    return f"<table>{rows}</table>{extra}"


class WindowActions:
    """Every action of the main window, its menus and its toolbar; see the module docstring."""

    def __init__(self, window: QMainWindow):
        self.window = window
        icon = window.style().standardIcon

        def action(text: str, slot, key: str | None = None, tip: str = "", icon_name=None,
                   checkable: bool = False) -> QAction:
            act = QAction(text, window)
            if key:
                act.setShortcut(QKeySequence(key))
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if tip:
                act.setToolTip(tip)
                act.setStatusTip(tip)
            if icon_name is not None:
                act.setIcon(icon(icon_name))
            act.setCheckable(checkable)
            if checkable:
                act.setChecked(True)
                act.toggled.connect(slot)
            else:
                act.triggered.connect(slot)
            window.addAction(act)  # shortcuts work even where no menu shows the action
            return act

        sp = QStyle.StandardPixmap
        self.open_coach = action("Open &coach video…", lambda: window.ask_open_video(COACH),
                                 KEYS["Open the coach's video"], "Open the reference video", sp.SP_DialogOpenButton)
        self.open_student = action("Open &student video…", lambda: window.ask_open_video(STUDENT),
                                   KEYS["Open the student's video"], "Open the student's video",
                                   sp.SP_DialogOpenButton)
        self.open_session = action("Open sess&ion…", window.ask_open_session, KEYS["Open a saved session"],
                                   "Open both videos, the alignment and the position saved earlier",
                                   sp.SP_DirOpenIcon)
        self.save_session = action("Sa&ve session…", window.ask_save_session, KEYS["Save the session"],
                                   "Save both video paths, the alignment and the position", sp.SP_DialogSaveButton)
        self.export_report = action("Export &report CSV…", window.export_report,
                                    KEYS["Export the report (CSV, one row per aligned frame pair)"],
                                    "One row per aligned frame pair: distances and angles", sp.SP_FileIcon)
        self.export_summary = action("Export s&ummary CSV…", window.export_summary, None,
                                     "One row per joint and angle: mean and largest deviation, and the score")
        self.export_png = action("Export &timelines PNG…", window.export_png, None,
                                 "Save the timelines as a picture")
        self.quit = action("&Quit", window.close, KEYS["Quit"], "Close gymnast_pose")
        self.exports = (self.export_report, self.export_summary, self.export_png)

        self.play = action("&Play / pause", window.playback.toggle, KEYS["Play / pause"], "Play or pause both videos",
                           sp.SP_MediaPlay)
        self.step_back = action("One frame &back", lambda: window.playback.step(-1), KEYS["One frame back"])
        self.step_forward = action("One frame &forward", lambda: window.playback.step(1), KEYS["One frame forward"])
        self.slower = action("&Slower", window.playback.slower, KEYS["Slower playback"])
        self.faster = action("F&aster", window.playback.faster, KEYS["Faster playback"])

        self.show_skeleton = action("&Stickmen", window.apply_overlay_options, None,
                                    "Draw each athlete's detected joints and bones", checkable=True)
        self.show_ghost = action("Coach's &ghost on the student", window.apply_overlay_options, None,
                                 "Draw the coach's pose on the student's body, coloured by deviation",
                                 checkable=True)
        self.show_low_confidence = action("&Low-confidence joints", window.apply_overlay_options, None,
                                          "Also draw joints the network is unsure of (hollow rings)",
                                          checkable=True)
        self.overlays = (self.show_skeleton, self.show_ghost, self.show_low_confidence)

        self.shortcuts_help = action("&Keyboard shortcuts", window.show_shortcuts, "F1")
        self.about = action("&About gymnast_pose", window.show_about)

        self._build_menus()
        self._build_toolbar()

    def _build_menus(self) -> None:
        bar = self.window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_coach)
        file_menu.addAction(self.open_student)
        self.recent_menu = QMenu("Open &recent", self.window)
        self.recent_menu.aboutToShow.connect(self.window.fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.open_session)
        file_menu.addAction(self.save_session)
        file_menu.addSeparator()
        for act in self.exports:
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        playback_menu = bar.addMenu("&Playback")
        for act in (self.play, self.step_back, self.step_forward, self.slower, self.faster):
            playback_menu.addAction(act)
        view_menu = bar.addMenu("&View")
        for act in self.overlays:
            view_menu.addAction(act)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_help)
        help_menu.addAction(self.about)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self.window)
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        short = {self.open_coach: "Coach video…", self.open_student: "Student video…",
                 self.open_session: "Open session…", self.save_session: "Save session…",
                 self.export_report: "Export report…", self.export_png: "Export timelines…"}
        for act in (self.open_coach, self.open_student, None, self.open_session, self.save_session, None,
                    self.export_report, self.export_png):
            if act is None:
                toolbar.addSeparator()
                continue
            act.setIconText(short[act])  # toolbar buttons show the icon text; menus keep the full text
            toolbar.addAction(act)
        self.toolbar = toolbar
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
