import { InputError, Registry, suggest, type Sample } from "@resagent/core";

/** What every dataset loader accepts; loaders add their own keys (root, style, count...). */
export interface DatasetOptions {
  split: string;
  /** Data root for real datasets; ignored by generated ones. */
  root?: string;
  [key: string]: unknown;
}

/**
 * A sized, ordered collection of samples. Order is deterministic (the same options always
 * list the same ids in the same order), and `get(i)` loads one sample with its gold mask.
 */
export interface Dataset extends AsyncIterable<Sample> {
  /** e.g. "synthref/refcoco/val". */
  readonly name: string;
  readonly size: number;
  /** Sample ids in order, without loading images or masks. */
  ids(): readonly string[];
  get(index: number): Promise<Sample>;
  /** Every n-th sample starting at i (0-based): shards partition the dataset exactly. */
  shard(i: number, n: number): Dataset;
  /** The first `n` samples (smoke runs, `--limit`). */
  limit(n: number): Dataset;
  /** How the data was made: shown in summaries (e.g. "synthetic (synthref v1)"). */
  readonly provenance: string;
}

export interface DatasetFactory {
  name: string;
  description: string;
  splits: readonly string[];
  open(options: DatasetOptions): Promise<Dataset>;
}

/** A dataset over an index of items, each loaded on demand. Loaders build on this. */
export class IndexedDataset<T> implements Dataset {
  constructor(
    readonly name: string,
    readonly provenance: string,
    private readonly items: readonly T[],
    private readonly idOf: (item: T) => string,
    private readonly load: (item: T) => Promise<Sample>,
  ) {}

  get size(): number {
    return this.items.length;
  }

  ids(): readonly string[] {
    return this.items.map(this.idOf);
  }

  get(index: number): Promise<Sample> {
    const item = this.items[index];
    if (item === undefined) throw new RangeError(`${this.name}: index ${index} out of range [0, ${this.items.length})`);
    return this.load(item);
  }

  shard(i: number, n: number): Dataset {
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(i) || i < 0 || i >= n) {
      throw new InputError(`shard ${i}/${n} is invalid: expected 0 <= i < n`, { field: "shard" });
    }
    return new IndexedDataset(`${this.name}[shard ${i}/${n}]`, this.provenance, this.items.filter((_, k) => k % n === i), this.idOf, this.load);
  }

  limit(n: number): Dataset {
    return new IndexedDataset(this.name, this.provenance, this.items.slice(0, Math.max(0, n)), this.idOf, this.load);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Sample> {
    for (const item of this.items) yield await this.load(item);
  }
}

const datasets = new Registry<DatasetFactory>("dataset", "dataset.name");

/** Register a loader by its name; a name registered twice throws. */
export function registerDataset(factory: DatasetFactory): void {
  datasets.register(factory.name, factory);
}

export function datasetNames(): string[] {
  return datasets.names().sort();
}

/** The loader of `name`; an unknown name fails with the known ones and a "did you mean". */
export function getDatasetFactory(name: string): DatasetFactory {
  return datasets.get(name);
}

/** Open a dataset by registry name, checking the split first. */
export async function openDataset(name: string, options: DatasetOptions): Promise<Dataset> {
  const f = getDatasetFactory(name);
  if (!f.splits.includes(options.split)) {
    throw new InputError(`dataset "${name}" has no split "${options.split}"; ${suggest(options.split, f.splits)}`, { field: "dataset.split" });
  }
  return f.open(options);
}
