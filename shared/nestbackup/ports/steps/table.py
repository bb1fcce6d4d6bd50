"""Every function's steps, by the `Step` the flow's body names, with their input and output: what
`scripts/flowcheck.py` checks the flows against and the unit tests check the functions' dispatch tables against. It
imports every step's module, so no handler imports it (a cold start loads its own step's contract only)."""
from __future__ import annotations

from . import BACKUP_STEPS, DB_RENAME, RESTORE_STEPS, StepInput, StepOutput
from .advance import AdvanceInput, AdvanceOutput
from .drill import DrillAdvanceInput, DrillAdvanceOutput, DrillCloseInput, DrillCloseOutput
from .finalize import FinalizeInput, FinalizeOutput
from .poll import PollInput, PollOutput
from .prepare import PrepareInput, PrepareOutput
from .quiesce import FreezeInput, FreezeOutput, ThawInput, ThawOutput
from .recover import RecoverInput, RecoverOutput
from .rename import RenameInput, RenameOutput
from .start import StartBatchInput, StartBatchOutput

STEPS: dict[str, dict[str | None, tuple[type[StepInput], type[StepOutput]]]] = {
    BACKUP_STEPS: {"Prepare": (PrepareInput, PrepareOutput), "Start": (StartBatchInput, StartBatchOutput),
                   "Poll": (PollInput, PollOutput), "Finalize": (FinalizeInput, FinalizeOutput),
                   "Freeze": (FreezeInput, FreezeOutput), "Thaw": (ThawInput, ThawOutput)},
    RESTORE_STEPS: {"Advance": (AdvanceInput, AdvanceOutput), "Recover": (RecoverInput, RecoverOutput),
                    "DrillAdvance": (DrillAdvanceInput, DrillAdvanceOutput),
                    "DrillClose": (DrillCloseInput, DrillCloseOutput)},
    DB_RENAME: {None: (RenameInput, RenameOutput)},
}
