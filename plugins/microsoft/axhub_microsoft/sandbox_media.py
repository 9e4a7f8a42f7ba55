"""What the Graph sandbox answers in Graph's own words wherever a call is served:
the OData JSON media type, and the error code and message of each status a test
injects (shared by the request hook and the call pipeline)."""

ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

GRAPH_FAULTS = {
    400: ("BadRequest", "Invalid request."),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "General exception while processing."),
    503: ("serviceNotAvailable", "Service unavailable"),
    504: ("UnknownError", "Gateway Timeout"),
}
