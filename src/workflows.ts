/** The workflow bundle's entry: every workflow type the worker runs. */
export { seatEntity } from './entities/seat/workflow';
export { eventEntity } from './entities/event/workflow';
export { queueEntity } from './entities/queue/workflow';
export { purchase, confirmation } from './sagas/purchase/workflow';
