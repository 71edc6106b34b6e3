// Development entry for shard workers when lowbit-tp runs from its TypeScript sources (tests, tsx):
// registers the tsx loader inside the worker, then starts the real worker. The package ships compiled .js.
import { register } from 'tsx/esm/api';
register();
await import('./worker.ts');
