import { envBoolean } from "@herald/runtime";

/**
 * The environment every service that calls business servers (deliverer, evaluator) or checks their
 * URLs (gateway) reads, spread into its schema: one name for the development switch everywhere.
 */
export const egressEnvSchema = {
  /** Lets every app reach 127.0.0.0/8 and ::1: for local development, never in production. */
  DELIVERY_ALLOW_LOOPBACK: envBoolean.default(false),
};
