import './zodConfig' // first: zod must be jitless before any schema is built (strict CSP)
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import './style.css'

const app = createApp(App)
app.use(createPinia())
app.use(router)
app.config.errorHandler = (err) => {
  // errors reach the user in words through the stores; keep the console quiet but visible for debugging
  console.warn('unhandled:', err instanceof Error ? err.message : String(err))
}
app.mount('#app')
