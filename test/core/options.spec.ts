import { DEFAULT_LIMITS, InvalidOptionError } from '../../src/core/index.js';
import { resolveLimits } from '../../src/core/options.js';
import { thrownBy } from '../helpers/errors.js';

describe('connection limits', () => {
  it('fill in the defaults for what is not given', () => {
    expect(resolveLimits({ maxFrameBytes: 1024, highWaterMark: undefined })).toEqual({ ...DEFAULT_LIMITS, maxFrameBytes: 1024 });
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53])('refuses %p with ERR_INVALID_OPTION naming the option', (value) => {
    const error = thrownBy(() => resolveLimits({ flushBytes: value }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', option: 'flushBytes' });
  });
});
