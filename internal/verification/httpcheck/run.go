package httpcheck

import (
	"context"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Run makes p's measurements, the first at once and each next one after
// tick(interval) fires; production passes time.After, tests a channel they
// control. After each measurement report receives the running totals:
// Running until the check ends, then Successful when every measurement was
// made without more than the failure limit failing, Failed as soon as more
// have failed (no further measurements are made), or Error when a
// measurement could not be made. When ctx ends first the result is Aborted.
// Run returns the final result, which is also the last one reported.
func Run(
	ctx context.Context,
	c *Client,
	p *Program,
	headers map[string]string,
	tick func(time.Duration) <-chan time.Time,
	report func(kargoapi.CheckResult),
) kargoapi.CheckResult {
	res := kargoapi.CheckResult{Name: p.name, Phase: kargoapi.VerificationPhaseRunning}
	end := func(phase kargoapi.VerificationPhase) kargoapi.CheckResult {
		res.Phase = phase
		report(res)
		return res
	}
	for i := int32(0); i < p.count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return end(kargoapi.VerificationPhaseAborted)
			case <-tick(p.interval):
			}
		}
		m := Measure(ctx, c, p, headers)
		switch {
		case ctx.Err() != nil:
			return end(kargoapi.VerificationPhaseAborted)
		case m.Err != nil:
			res.Message = m.Err.Error()
			return end(kargoapi.VerificationPhaseError)
		}
		res.Measurements++
		if !m.Passed {
			res.Failures++
			res.Message = m.Message
		}
		switch {
		case res.Failures > p.failureLimit:
			return end(kargoapi.VerificationPhaseFailed)
		case res.Measurements == p.count:
			return end(kargoapi.VerificationPhaseSuccessful)
		}
		report(res)
	}
	// Not reached: the loop ends the check at its last measurement.
	return end(kargoapi.VerificationPhaseSuccessful)
}
