from datetime import datetime

from django.http import HttpRequest

from rocketdbaas.accounts.roles import can_write
from rocketdbaas.core.schemas import ApiRouter, CamelSchema

router = ApiRouter()


class TokenOut(CamelSchema):
    name: str
    hint: str
    write: bool
    expires_at: datetime | None


class MeOut(CamelSchema):
    username: str
    role: str
    can_write: bool
    token: TokenOut | None


@router.get("/me", response=MeOut, summary="Who the caller is: user, role and the token used")
def me(request: HttpRequest):
    token = getattr(request, "api_token", None)
    return {
        "username": request.user.get_username(),
        "role": getattr(request.user, "role", ""),
        "can_write": can_write(request),
        "token": token,
    }
