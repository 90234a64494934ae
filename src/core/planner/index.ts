// The client/server split planner (spec/split.md): cost profile, DP, oracle, baselines.
export * from './types.js';
export * from './profile.js';
export * from './evaluate.js';
export * from './dp.js';
export * from './frontier.js';
export * from './baselines.js';
export { planSplit, resolveSplitOptions, serverFlopsFraction, SplitWorkspace } from './plan.js';
