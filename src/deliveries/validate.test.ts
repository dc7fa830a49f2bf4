import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { DeliveryEventSchema } from '../connectors/delivery.js';
import { connectorTypes } from '../connectors/registry.js';
import { eventProblems } from './validate.js';

// The validators are compiled without checking their schemas against the meta-schema (that check
// costs more than the compiles, at every start); this test is that check, for every schema.
describe('the schemas of delivery requests', () => {
  it('the event and every type’s options are valid JSON Schemas', () => {
    const options = connectorTypes.flatMap((type) => (type.deliver ? [type.deliver.options] : []));
    expect(options.length).toBeGreaterThan(0);
    const meta = new Ajv({ strict: false });
    for (const schema of [DeliveryEventSchema, ...options]) {
      expect(meta.validateSchema(schema), meta.errorsText()).toBe(true);
    }
    expect(meta.validateSchema({ ...DeliveryEventSchema, properties: [] })).toBe(false);
  });

  it('the event validator, compiled on first use, refuses and accepts as before', () => {
    expect(eventProblems({ eventType: 'ALERT' })).toEqual([
      { field: '/event/summary', message: 'is required for an ALERT event' },
    ]);
    expect(eventProblems({ eventType: 'NOPE', summary: 'x' }).map((problem) => problem.field)).toEqual([
      '/event/eventType',
    ]);
    expect(eventProblems({ eventType: 'RESOLVE' })).toEqual([]);
  });
});
