from rocketdbaas.core.schemas import ApiRouter

router = ApiRouter()
