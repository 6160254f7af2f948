//! Container log envelopes. STUB: to be implemented.
