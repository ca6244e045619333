export { writeReport, tableHtml, ALL_CARDS_LIMIT, type ReportOptions, type ReportResult } from "./report.js";
export { readRunFolder, cellOrder, failureKinds, verifierErrors, WRONG_OBJECT_BOX_IOU, type RunFolder, type RunRecord, type RunSummary, type SummaryTable, type DatasetRef, type FailureKind } from "./run.js";
export { writeOverlays, overlayKey, pickSamples, DEFAULT_MAX_OVERLAYS, pYesColour, ASSET_DIR, OVERLAY_SIDE, OVERLAY_VERSION } from "./overlay.js";
export { tableLatex, texEscape } from "./latex.js";
export { compareRuns, comparisonText, comparisonHtml, type Comparison, type ComparisonRow, type CompareOptions } from "./compare.js";
export { listRuns, updateLatest, runsText, runsHtml, type RunEntry } from "./runs.js";
export { generatorMeta, contentSecurityPolicy } from "./html.js";
export { galleryScript, type GalleryCard, type GalleryData } from "./client.js";
