// Development entry of a networked shard's worker when running from TypeScript sources (tests, tsx).
import { register } from 'tsx/esm/api';
register();
await import('./worker.ts');
