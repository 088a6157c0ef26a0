/** The workflow bundle's entry: every workflow type the worker runs. */
export { seatEntity } from './entities/seat/workflow';
export { eventEntity } from './entities/event/workflow';
export { purchase, confirmation } from './sagas/purchase/workflow';
