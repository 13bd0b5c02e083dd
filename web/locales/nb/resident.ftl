# Innbyggernes sider: forside, lokalside, bookingskjema og mine bookinger.
start-title = Finn et ledig lokale
start-intro = Søk etter et lokale som er ledig når du trenger det, og send en søknad.
rooms-found = { $count ->
    [0] Ingen lokaler
    [one] Ett lokale
   *[other] { $count } lokaler
  }
capacity-people = { $count } personer
