from rocketdbaas.dbms import DbmsType


def navigation(request):
    return {"dbms_types": DbmsType.choices}
