/**
 * Every property test imports this first, so a run is reproducible: fast-check draws from one
 * fixed seed unless FC_SEED says otherwise. `FC_SEED=random` explores fresh inputs and prints the
 * seed of any failure; `FC_RUNS=N` sets the default number of runs per property (local numRuns
 * still win). CI uses the fixed seed, so the suite passes or fails the same way every time.
 */
import fc from 'fast-check';

const DEFAULT_SEED = 20261125;
const raw = process.env.FC_SEED;
const runs = Number(process.env.FC_RUNS);
fc.configureGlobal({
  ...(raw === 'random' ? {} : { seed: raw !== undefined && raw !== '' ? Number(raw) : DEFAULT_SEED }),
  ...(Number.isInteger(runs) && runs > 0 ? { numRuns: runs } : {}),
});
