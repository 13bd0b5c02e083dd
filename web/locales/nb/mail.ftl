# E-post til innbyggere og saksbehandlere (src/notify/mail.rs). Ren tekst: ingen markering.
mail-greeting = Hei { $name },
mail-received-subject = Forespørsel mottatt: { $room }
mail-received-body = Vi har mottatt forespørselen din om å leie { $room }. En saksbehandler ser på den, og du får en ny e-post når den er avgjort.
mail-approved-subject = Godkjent: { $room }
mail-approved-body = Bookingen din av { $room } er godkjent.
mail-approved-calendar = Kalenderinvitasjonen i denne e-posten (invite.ics) legger bookingen inn i kalenderen din.
mail-rejected-subject = Avslått: { $room }
mail-rejected-body = Forespørselen din om å leie { $room } er dessverre avslått.
mail-cancelled-subject = Avlyst: { $room }
mail-cancelled-body = Bookingen din av { $room } er avlyst.
mail-cancelled-calendar = Har du lagt bookingen inn i kalenderen din, fjerner vedlegget i denne e-posten den igjen.
mail-expired-subject = Ikke behandlet i tide: { $room }
mail-expired-body = Forespørselen din om å leie { $room } ble ikke behandlet før fristen gikk ut, så lokalet er ikke lenger holdt av for deg. Du kan sende en ny forespørsel.
mail-dates-approved-subject = { $count ->
    [one] Én dato godkjent: { $room }
   *[other] { $count } datoer godkjent: { $room }
  }
mail-dates-approved-body = { $count ->
    [one] Denne datoen i bookingen din av { $room } er godkjent:
   *[other] Disse { $count } datoene i bookingen din av { $room } er godkjent:
  }
mail-dates-rejected-subject = { $count ->
    [one] Én dato avslått: { $room }
   *[other] { $count } datoer avslått: { $room }
  }
mail-dates-rejected-body = { $count ->
    [one] Denne datoen i forespørselen din om { $room } er dessverre avslått:
   *[other] Disse { $count } datoene i forespørselen din om { $room } er dessverre avslått:
  }
mail-dates-cancelled-subject = { $count ->
    [one] Én dato avlyst: { $room }
   *[other] { $count } datoer avlyst: { $room }
  }
mail-dates-cancelled-body = { $count ->
    [one] Denne datoen i bookingen din av { $room } er avlyst:
   *[other] Disse { $count } datoene i bookingen din av { $room } er avlyst:
  }
mail-dates-cancelled-calendar = Har du lagt bookingen inn i kalenderen din, fjerner vedlegget i denne e-posten bare disse datoene; de andre blir stående.
mail-dates-expired-subject = { $count ->
    [one] Én dato ikke behandlet i tide: { $room }
   *[other] { $count } datoer ikke behandlet i tide: { $room }
  }
mail-dates-expired-body = { $count ->
    [one] Denne datoen i forespørselen din om { $room } ble ikke behandlet før fristen gikk ut, og er ikke lenger holdt av for deg:
   *[other] Disse { $count } datoene i forespørselen din om { $room } ble ikke behandlet før fristen gikk ut, og er ikke lenger holdt av for deg:
  }
mail-dates-moved-subject = Ny tid: { $room }
mail-dates-moved-body = { $count ->
    [one] Denne datoen i bookingen din av { $room } er flyttet til en ny tid:
   *[other] Disse { $count } datoene i bookingen din av { $room } er flyttet til nye tider:
  }
mail-dates-rest = Slik står bookingen nå:
mail-reason = Begrunnelse: { $reason }
mail-label-room = Lokale
mail-label-building = Bygg
mail-label-purpose = Formål
mail-label-when = Tid
mail-label-dates = Datoer ({ $count })
mail-label-zone = Tidene er lokal tid ({ $zone }).
mail-date-skipped = ikke med
mail-date-cancelled = avlyst
mail-date-rejected = avslått
mail-date-pending = til behandling
mail-date-expired = utløpt
mail-more-dates = … og { $count ->
    [one] én dato til
   *[other] { $count } datoer til
  }
mail-link = Se bookingen: { $url }
mail-footer = Denne e-posten er sendt automatisk fra Lokal.
mail-digest-subject = { $count ->
    [one] Én ny forespørsel
   *[other] { $count } nye forespørsler
  }
mail-digest-intro = { $count ->
    [one] Denne forespørselen venter på behandling:
   *[other] Disse forespørslene venter på behandling:
  }
mail-digest-item = { $room }, { $when }: { $name } – { $purpose }
mail-digest-link = Åpne køen: { $url }
