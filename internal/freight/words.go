package freight

// The words of aliases. Every word is lowercase ASCII letters, so an alias is
// always a valid label value. Appending words is safe; reordering or removing
// them changes the aliases of Freight created later (never of existing ones,
// which keep theirs).

var adjectives = [...]string{
	"able", "agile", "amber", "ample", "ancient", "arctic", "ardent", "astral", "autumn", "azure",
	"balmy", "bold", "brave", "breezy", "bright", "brisk", "bronze", "calm", "candid", "careful",
	"cheerful", "civil", "clever", "coastal", "cobalt", "cosmic", "cozy", "crafty", "crimson",
	"crisp", "curious", "dapper", "daring", "dashing", "dazzling", "deft", "dusky", "eager",
	"early", "earnest", "easy", "electric", "elegant", "emerald", "epic", "even", "fabled",
	"fair", "faithful", "fancy", "fearless", "festive", "fiery", "firm", "fleet", "fluent",
	"flying", "fond", "frank", "free", "fresh", "frosty", "frozen", "gentle", "gilded", "glad",
	"gleaming", "golden", "graceful", "grand", "green", "hardy", "hazel", "hearty", "heroic",
	"hidden", "honest", "humble", "icy", "idle", "jade", "jolly", "jovial", "keen", "kind",
	"lively", "lucid", "lucky", "lunar", "majestic", "mellow", "merry", "mighty", "misty",
	"modest", "mortal", "mossy", "nimble", "noble", "northern", "nova", "oaken", "olive", "opal",
	"patient", "peppy", "placid", "plucky", "polar", "polite", "proud", "quick", "quiet",
	"radiant", "rapid", "rare", "ready", "regal", "rosy", "royal", "ruby", "rustic", "sandy",
	"scarlet", "serene", "sharp", "shiny", "silent", "silver", "sleek", "smooth", "snowy",
	"solar", "solid", "sonic", "spry", "stellar", "steady", "stoic", "sturdy", "sunny", "swift",
	"tawny", "tender", "tidy", "tranquil", "trusty", "twilight", "upbeat", "urban", "valiant",
	"velvet", "verdant", "vivid", "warm", "wary", "whimsical", "wild", "windy", "wise", "witty",
	"young", "zealous", "zesty",
}

var animals = [...]string{
	"albatross", "alpaca", "antelope", "armadillo", "badger", "barracuda", "beaver", "bison",
	"bobcat", "buffalo", "camel", "capybara", "caribou", "cassowary", "catfish", "chameleon",
	"cheetah", "chinchilla", "cobra", "condor", "cormorant", "cougar", "coyote", "crane",
	"cricket", "crow", "dingo", "dolphin", "dormouse", "dove", "dragonfly", "duck", "eagle",
	"eel", "egret", "elephant", "elk", "emu", "falcon", "ferret", "finch", "firefly", "flamingo",
	"fox", "frog", "gazelle", "gecko", "gibbon", "giraffe", "gnu", "goat", "goose", "gopher",
	"gorilla", "grouse", "gull", "hamster", "hare", "hawk", "hedgehog", "heron", "hippo",
	"hornet", "horse", "hummingbird", "hyena", "ibex", "ibis", "iguana", "impala", "jackal",
	"jaguar", "jay", "jellyfish", "kangaroo", "kestrel", "kingfisher", "kiwi", "koala", "kudu",
	"ladybug", "lark", "lemur", "leopard", "lion", "lizard", "llama", "lobster", "lynx", "macaw",
	"magpie", "mallard", "manatee", "mantis", "marmot", "marten", "meerkat", "mink", "mole",
	"mongoose", "moose", "narwhal", "newt", "nightingale", "ocelot", "octopus", "okapi", "orca",
	"oriole", "osprey", "ostrich", "otter", "owl", "ox", "panda", "pangolin", "panther", "parrot",
	"pelican", "penguin", "pheasant", "pika", "platypus", "porcupine", "puffin", "puma", "quail",
	"quokka", "rabbit", "raccoon", "raven", "reindeer", "robin", "salamander", "salmon", "seal",
	"shark", "sheep", "shrew", "skunk", "sloth", "snail", "sparrow", "squid", "squirrel",
	"starling", "stingray", "stork", "swan", "tapir", "tauntaun", "tern", "tiger", "toucan",
	"trout", "tuna", "turkey", "turtle", "viper", "vulture", "walrus", "warbler", "weasel",
	"whale", "wolf", "wolverine", "wombat", "woodpecker", "wren", "yak", "zebra",
}
