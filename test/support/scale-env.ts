/**
 * A setup file of the scale-out slice: its services' connection details (set by global-setup-scale.ts
 * under SCALE_ENV_PREFIX, beside the integration project's) become the environment its tests read.
 */
import { SCALE_ENV_PREFIX } from './test-env';

for (const [name, value] of Object.entries(process.env)) {
  if (name.startsWith(SCALE_ENV_PREFIX) && value !== undefined)
    process.env[name.slice(SCALE_ENV_PREFIX.length)] = value;
}
