/**
 * dist/pkg/server/snapshot-builder.js: builds one V8 start-up snapshot of the server bundle and
 * exits (startup-snapshot.ts starts it, with the job as JSON in its one argument).
 */
import { runBuildJob, type BuildJob } from './startup-snapshot.js';

runBuildJob(JSON.parse(process.argv[2] ?? '{}') as BuildJob);
