import { ValidationError } from "@herald/runtime";

export { unaryHandler as queryHandler } from "@herald/grpc";

/** Refuses an empty required field, naming it as the proto spells it. */
export function required(field: string, value: string): void {
  if (value === "") throw new ValidationError(`${field}: must not be empty`, { field });
}
