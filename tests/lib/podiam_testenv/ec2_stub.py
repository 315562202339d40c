"""A minimal EC2 query-API stub: DescribeRegions answered with an empty region list.

For running kube2iam (the benchmark peer) against moto. Its aws-sdk-go-v2 STS client is built
with a custom endpoint resolver that first calls EC2 DescribeRegions: without an EC2 endpoint
that call fails and so does every AssumeRole; when the region is listed, the resolver returns
https://sts.<region>.amazonaws.com and `AWS_ENDPOINT_URL_STS` is ignored. With no regions
listed the resolver defers to the SDK's default resolution, which honours
`AWS_ENDPOINT_URL_STS`. So: serve this stub in the node and give the process
`AWS_ENDPOINT_URL_EC2` = its URL. Any other action gets the EC2 error shape with 400.

    stub = Ec2Stub()
    server = node.serve_http(Ec2Stub.Handler, owner=stub)   # NODE_IP:<port> in the node only
    env["AWS_ENDPOINT_URL_EC2"] = server.url
"""

from __future__ import annotations

import collections
import threading
import uuid
from urllib.parse import parse_qsl, urlsplit

from .netns import HttpHandler

EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"


class Ec2Stub:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts: collections.Counter = collections.Counter()

    def counts(self, action: str | None = None):
        """Requests received per Action; one action's count if given."""
        with self._lock:
            return self._counts[action] if action else dict(self._counts)

    def _count(self, action: str) -> None:
        with self._lock:
            self._counts[action or "(none)"] += 1

    class Handler(HttpHandler):  # one write per response (see netns.HttpHandler)
        server_version = "podiam-ec2-stub"

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            self._handle(b"")

        def do_POST(self):
            self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _handle(self, body: bytes) -> None:
            stub: Ec2Stub = self.server.owner
            params = dict(parse_qsl(urlsplit(self.path).query))
            params.update(parse_qsl(body.decode(errors="replace")))
            action = params.get("Action", "")
            stub._count(action)
            request_id = str(uuid.uuid4())
            if action == "DescribeRegions":
                status, xml = 200, (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n'
                    f'<DescribeRegionsResponse xmlns="{EC2_XMLNS}">'
                    f"<requestId>{request_id}</requestId><regionInfo/>"
                    f"</DescribeRegionsResponse>")
            else:
                status, xml = 400, (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Response><Errors><Error><Code>InvalidAction</Code>"
                    f"<Message>the EC2 stub answers only DescribeRegions</Message></Error></Errors>"
                    f"<RequestID>{request_id}</RequestID></Response>")
            data = xml.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
