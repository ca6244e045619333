import { registerDataset } from "./dataset.js";
import { reasonseg } from "./reasonseg/index.js";
import { refcoco, refcocoPlus, refcocog } from "./refer/index.js";
import { synthref } from "./synthref/index.js";

export * from "./dataset.js";
export { synthref, openSynthref, generateRef, resolveSynthrefOptions, synthrefCacheDir, SYNTHREF_DEFAULTS, SYNTHREF_SPLITS, SYNTHREF_VERSION } from "./synthref/index.js";
export type { SynthrefOptions } from "./synthref/index.js";
export { STYLES, type Style } from "./synthref/language.js";
export { CATEGORIES, SHAPES, type Category } from "./synthref/shapes.js";
export { COLOURS, COLOUR_NAMES } from "./synthref/scene.js";

registerDataset(synthref);
registerDataset(refcoco);
registerDataset(refcocoPlus);
registerDataset(refcocog);
registerDataset(reasonseg);
export { openReasonSeg, reasonSegMask } from "./reasonseg/index.js";

export { unpickle, type PickleValue } from "./pickle.js";
export { openRefer, matchesSplit, DEFAULT_SPLIT_BY, type ReferOptions } from "./refer/index.js";
export { chooseSentence, datasetSource, describeUnit, sampleUnitOptions, SAMPLE_UNITS, SENTENCE_MODES, type SampleUnit, type SentenceMode } from "./sentences.js";
