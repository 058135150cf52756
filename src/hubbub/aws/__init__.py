"""hubbub on AWS: Lambda handlers behind an API Gateway WebSocket API, the
DynamoDB store, pushes through the API Gateway Management API, the SAM and
Serverless templates, and `hubbub aws-local` to run all of it on one machine."""
