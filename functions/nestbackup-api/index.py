"""HTTP trigger: the REST API (POST /backups, GET /backups, GET /backups/{id})."""
from nestbackup.api.app import handle
from nestbackup.handlers import event_json, http_reply, http_request, invocation, wiring


def handler(event, context):
    request = http_request(event_json(event))
    with invocation(context, request_id=request.request_id):
        return http_reply(handle(request, lambda: wiring(context)))
