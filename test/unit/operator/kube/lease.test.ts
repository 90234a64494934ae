// Lease expiry is judged on this replica's clock (client-go), so skew between replicas neither
// lets a standby steal a live Lease nor keeps a dead one held.
import { describe, expect, it } from '@jest/globals';
import { LeaseExpiry } from '../../../../src/operator/kube/lease.js';
import { FakeClock } from '../../../support/fake-clock.js';

const DURATION = 15_000;
const HOUR = 3_600_000;

describe('LeaseExpiry', () => {
  it('a released Lease is free at once', () => {
    const clock = new FakeClock();
    expect(new LeaseExpiry().expired('', undefined, DURATION, clock.now())).toBe(true);
  });

  it('a holder whose clock runs an hour ahead keeps renewing: never expired', () => {
    const clock = new FakeClock();
    const expiry = new LeaseExpiry();
    for (let i = 0; i < 20; i++) {
      // Its renewTime is an hour in our future, and changes at every renewal.
      const renew = new Date(clock.now() + HOUR + i).toISOString();
      expect(expiry.expired('leader', renew, DURATION, clock.now())).toBe(false);
      clock.advance(DURATION / 3);
    }
  });

  it('a holder whose clock runs an hour behind but stopped renewing expires after the duration', () => {
    const clock = new FakeClock();
    const expiry = new LeaseExpiry();
    const renew = new Date(clock.now() - HOUR).toISOString();
    expect(expiry.expired('leader', renew, DURATION, clock.now())).toBe(false);
    clock.advance(DURATION - 1);
    expect(expiry.expired('leader', renew, DURATION, clock.now())).toBe(false);
    clock.advance(2);
    expect(expiry.expired('leader', renew, DURATION, clock.now())).toBe(true);
  });

  it('a renewal seen at the last moment restarts the count', () => {
    const clock = new FakeClock();
    const expiry = new LeaseExpiry();
    expect(expiry.expired('leader', 'r1', DURATION, clock.now())).toBe(false);
    clock.advance(DURATION - 1);
    expect(expiry.expired('leader', 'r2', DURATION, clock.now())).toBe(false);
    clock.advance(DURATION - 1);
    expect(expiry.expired('leader', 'r2', DURATION, clock.now())).toBe(false);
    clock.advance(2);
    expect(expiry.expired('leader', 'r2', DURATION, clock.now())).toBe(true);
  });
});
