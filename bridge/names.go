package bridge

var platformNames = map[Platform]string{
	PlatformTelegram: "Telegram", PlatformMessenger: "Messenger", PlatformInstagram: "Instagram",
	PlatformFacebook: "Facebook", PlatformX: "X", PlatformBluesky: "Bluesky", PlatformReddit: "Reddit",
	PlatformLinkedIn: "LinkedIn", PlatformYouTube: "YouTube", PlatformGoogle: "Google Business",
}

// DisplayName is how chat surfaces name the platform to agents.
func (p Platform) DisplayName() string {
	if n, ok := platformNames[p]; ok {
		return n
	}
	return string(p)
}
